"""Small ASGI helpers shared by the HTTP fronts: replies, errors, bodies, disconnects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from types import TracebackType
from typing import Any, Final

import anyio
from anyio.abc import TaskGroup

from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc
from micro_mcp.transport import sse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON_HEADERS: Final = [(b"content-type", b"application/json")]
SSE_HEADERS: Final = [(b"content-type", sse.CONTENT_TYPE.encode()), (b"cache-control", b"no-cache")]
HANGUP: Final = "micro_mcp.hangup"
"""The scope extension (`{"hangup": Hangup}`) by which the gateway's own server says that the
client hung up: no task per request has to wait on `receive()` to learn it."""


class Hangup:
    """What to call if the client hangs up before the response is complete."""

    __slots__ = ("callback",)

    def __init__(self) -> None:
        self.callback: Callable[[], object] | None = None

    def __call__(self) -> None:
        """The client hung up: run the callback, once."""
        callback, self.callback = self.callback, None
        if callback is not None:
            callback()


async def cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client hangs up (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


class UntilDisconnect:
    """`async with UntilDisconnect(scope, receive) as watch:` runs the block in a cancel scope
    that the client's hanging up cancels; `watch.hung_up` says, after it, whether it did.

    Under the gateway's server that takes a `Hangup` callback; under any other ASGI server, a
    task waiting on `receive()`, which the block's end cancels. The request body must have been
    read already.
    """

    __slots__ = ("_hangup", "_receive", "_scope", "_tg", "hung_up")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        extensions: dict[str, dict[str, Any]] = scope.get("extensions") or {}
        extension = extensions.get(HANGUP)
        self._hangup: Hangup | None = extension["hangup"] if extension is not None else None
        self._receive = receive
        self._scope = anyio.CancelScope()
        self._tg: TaskGroup | None = None
        self.hung_up = False

    def _on_hangup(self) -> None:
        self.hung_up = True
        self._scope.cancel()

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._on_hangup()

    async def __aenter__(self) -> UntilDisconnect:
        if self._hangup is not None:
            self._hangup.callback = self._on_hangup
            self._scope.__enter__()
            return self
        self._tg = tg = anyio.create_task_group()
        self._scope = tg.cancel_scope
        await tg.__aenter__()
        tg.start_soon(self._watch)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if self._tg is not None:
            self._scope.cancel()  # the watcher's turn is over
            return await self._tg.__aexit__(exc_type, exc, tb)
        assert self._hangup is not None
        self._hangup.callback = None
        return self._scope.__exit__(exc_type, exc, tb)


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


async def read_message(receive: Receive, send: Send) -> jsonrpc.Message | None:
    """The request body decoded as one JSON-RPC message; None once it was answered with 400 and
    the JSON-RPC error (with the request's id when it could be read) because it is not one."""
    body = await read_body(receive)
    try:
        return jsonrpc.decode(body)
    except McpError as exc:
        await fail(send, 400, exc.code, exc.message, request_id=jsonrpc.salvage_id(body))
        return None
