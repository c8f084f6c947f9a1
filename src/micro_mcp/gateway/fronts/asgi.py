"""Small ASGI helpers shared by the HTTP fronts: replies, errors, bodies, disconnects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import anyio
from starlette.datastructures import Headers

from micro_mcp.protocol import jsonrpc
from micro_mcp.transport import sse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

JSON_HEADERS: Final = [(b"content-type", b"application/json")]
SSE_HEADERS: Final = [(b"content-type", sse.CONTENT_TYPE.encode()), (b"cache-control", b"no-cache")]


async def cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None if it is over `limit` (then not read further)."""
    declared = Headers(scope=scope).get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return b""
        chunk: bytes = event.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not event.get("more_body", False):
            return b"".join(chunks)


async def reply(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Send a whole response, its length declared: the server then writes it in one piece
    instead of as chunks, which a client would wait on (Nagle and delayed ACK: ~40 ms)."""
    length = (b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": body})


async def fail(
    send: Send,
    status: int,
    code: int,
    message: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a JSON-RPC error object (id null) with an HTTP status."""
    body = jsonrpc.encode(jsonrpc.error(None, {"code": code, "message": message}))
    await reply(send, status, body, [*JSON_HEADERS, *(extra or [])])
