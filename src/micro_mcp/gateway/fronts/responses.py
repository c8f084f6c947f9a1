"""Answering an HTTP request from an `EventStream`: the reply alone as plain JSON when it comes
first, else an SSE stream that ends with it (or, for a GET, that follows the session).

A reply that comes first still has its HTTP status to choose: a 2026-07-28 error gets the
status the spec maps its code to, and in both eras a rate-limit refusal gets 429 with
`Retry-After` (or 503 when the limits' store is unreachable), sent as JSON even to a client
that prefers SSE. Behind anything streamed first, the status is 200 and only the JSON-RPC
error says it.
"""

from __future__ import annotations

from typing import Final

import anyio
import orjson
from anyio.abc import TaskGroup
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS

from micro_mcp import codes
from micro_mcp.gateway.fronts.asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    Receive,
    Scope,
    Send,
    UntilDisconnect,
    reply,
)
from micro_mcp.gateway.fronts.streams import EventStream, is_reply_to
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.transport import sse

LONE_SSE_MAX_BYTES: Final = 512 * 1024
"""The largest reply sent as SSE to a client that prefers it when nothing precedes the reply;
a larger one goes as plain JSON, which has no event size limit (the SDK's SSE reader refuses
an event over 1 MiB)."""
LIMIT_STATUS: Final = {
    codes.RATE_LIMITED: 429,
    codes.RATE_LIMIT_UNAVAILABLE: 503,
    codes.STATE_UNAVAILABLE: 503,
}
"""HTTP statuses of the gateway's own refusals, in both eras."""
SMALL_REPLY_BYTES: Final = 1024
"""A handshake-era reply longer than this is no refusal of the gateway's, and is not parsed."""
RECONNECT_MS: Final = 1000
"""The `retry` of a priming event: milliseconds a client waits before resuming a dropped
stream."""


async def stream_out(
    scope: Scope,
    receive: Receive,
    send: Send,
    stream: EventStream,
    extra: list[tuple[bytes, bytes]],
    *,
    modern: bool,
    after: int = 0,
    sse_only: bool = False,
    prefer_sse: bool = False,
    primed: bool = False,
) -> str:
    """Answer from `stream`: plain JSON if the reply comes first, else SSE until the reply.

    With `prefer_sse`, a reply that comes first is still sent as SSE (as the SDK's own
    server does) unless it is larger than `LONE_SSE_MAX_BYTES`. A `primed` SSE answer opens
    with a priming event, so a client that loses the connection before the first message can
    still resume. Returns how it answered (`json` or `sse`), or `gone` when the client hung up
    first (then without error, and the stream stays to resume).
    """
    async with UntilDisconnect(scope, receive):
        return await _follow(
            send,
            stream,
            extra,
            modern=modern,
            after=after,
            sse_only=sse_only,
            prefer_sse=prefer_sse,
            primed=primed,
        )
    return "gone"


async def _follow(
    send: Send,
    stream: EventStream,
    extra: list[tuple[bytes, bytes]],
    *,
    modern: bool,
    after: int,
    sse_only: bool,
    prefer_sse: bool,
    primed: bool,
) -> str:
    started = False
    # A primed SSE answer may end before the reply when the service's did (SSE polling): the
    # client resumes it after the priming event. A client that takes only JSON cannot.
    resumable = primed and (prefer_sse or sse_only)
    async for seq, data in stream.follow(after, until_cut=resumable):
        alone = not started and stream.finished and seq == stream.seq
        if alone and not sse_only:
            status, headers = head_of(data, modern=modern)
            if status != 200 or not prefer_sse or len(data) > LONE_SSE_MAX_BYTES:
                await reply(send, status, data, [*JSON_HEADERS, *headers, *extra])
                return "json"
        if not started:
            headers = [*SSE_HEADERS, *extra]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            started = True
            if primed:
                event = sse.priming(stream.event_id(after), RECONNECT_MS)
                await send({"type": "http.response.body", "body": event, "more_body": True})
        event = sse.event(stream.event_id(seq), data)
        await send({"type": "http.response.body", "body": event, "more_body": True})
    if not started and resumable and not stream.finished:  # cut before its first message
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *extra]}
        )
        event = sse.priming(stream.event_id(after), RECONNECT_MS)
        await send({"type": "http.response.body", "body": event, "more_body": False})
    elif not started:  # the stream ended with nothing in it (its session was closed)
        await reply(send, 200, b"", [*SSE_HEADERS, *extra])
    else:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    return "sse"


class ModernAnswer:
    """The response to one 2026-07-28 request: the reply alone as JSON when it comes first,
    written by the request's own task; an SSE stream, written by a task of its own, only when
    something (progress, a log line) precedes it."""

    __slots__ = ("_done", "_over", "_reply", "_request_id", "_send", "_stream", "_tasks")

    def __init__(self, send: Send, request_id: object, tasks: TaskGroup) -> None:
        self._send = send
        self._request_id = request_id
        self._tasks = tasks
        self._reply: bytes | None = None
        self._stream: EventStream | None = None
        self._done: anyio.Event | None = None
        self._over = False
        """True once the reply is in, or the request is over: nothing follows on this response."""

    async def deliver(self, message: Message, related: object) -> None:
        """Take one message for the client (a `ClientSession`'s outbox)."""
        if self._over:
            return
        last = is_reply_to(message, self._request_id)
        self._over = last
        if self._stream is None:
            if last:
                self._reply = jsonrpc.encode(message)[:-1]
                return
            self._stream = EventStream("m")
            self._done = anyio.Event()
            self._tasks.start_soon(self._stream_out, self._stream, self._done)
        self._stream.push(message, last=last)

    async def _stream_out(self, stream: EventStream, done: anyio.Event) -> None:
        try:
            await _follow(
                self._send,
                stream,
                [],
                modern=True,
                after=0,
                sse_only=False,
                prefer_sse=False,
                primed=False,
            )
        finally:
            done.set()

    async def finish(self) -> None:
        """The request is over: write the reply, or end the stream and wait until it is out.
        A request cancelled before anything was delivered gets no response."""
        self._over = True
        if self._stream is not None and self._done is not None:
            self._stream.close()
            await self._done.wait()
        elif self._reply is not None:
            status, headers = head_of(self._reply, modern=True)
            await reply(self._send, status, self._reply, [*JSON_HEADERS, *headers])


def head_of(data: bytes, *, modern: bool) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The HTTP status of a reply sent alone, and headers it adds: for a 2026-07-28 reply the
    status the spec maps its error to; in both eras 429 with `Retry-After` for a rate limit,
    503 when the limits cannot be checked; else 200."""
    if (not modern and len(data) > SMALL_REPLY_BYTES) or b'"error"' not in data:
        return 200, []
    error = jsonrpc.as_object(orjson.loads(data).get("error"))
    code = error.get("code") if error is not None else None
    if not isinstance(code, int):
        return 200, []
    status = LIMIT_STATUS.get(code)
    if status is None:
        return (ERROR_CODE_HTTP_STATUS.get(code, 200) if modern else 200), []
    assert error is not None
    retry_after = jsonrpc.as_object(error.get("data")) or {}
    seconds = retry_after.get("retryAfter")
    if isinstance(seconds, int) and not isinstance(seconds, bool):
        return status, [(b"retry-after", str(seconds).encode())]
    return status, []
