"""Small ASGI helpers shared by the HTTP fronts: replies, errors, bodies, disconnects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import anyio

from micro_mcp.protocol import jsonrpc
from micro_mcp.transport import sse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS: Final = [(b"content-type", b"application/json")]
SSE_HEADERS: Final = [(b"content-type", sse.CONTENT_TYPE.encode()), (b"cache-control", b"no-cache")]


async def cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def read_body(receive: Receive) -> bytes:
    """The whole request body (empty if the client hung up); its size is `BodyLimit`'s guard."""
    chunks: list[bytes] = []
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            return b""
        chunks.append(event.get("body", b""))
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
    *,
    request_id: jsonrpc.RequestId | None = None,
) -> None:
    """Send a JSON-RPC error object (id null unless given) with an HTTP status."""
    body = jsonrpc.encode(jsonrpc.error(request_id, {"code": code, "message": message}))
    await reply(send, status, body, [*JSON_HEADERS, *(extra or [])])
