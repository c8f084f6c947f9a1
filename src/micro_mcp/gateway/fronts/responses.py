"""Answering an HTTP request from an `EventStream`: the reply alone as plain JSON when it comes
first, else an SSE stream that ends with it (or, for a GET, that follows the session)."""

from __future__ import annotations

from typing import Final

import anyio
import orjson
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS

from micro_mcp.gateway.fronts.asgi import (
    JSON_HEADERS,
    SSE_HEADERS,
    Receive,
    Send,
    cancel_on_disconnect,
    reply,
)
from micro_mcp.gateway.fronts.streams import EventStream
from micro_mcp.protocol import jsonrpc
from micro_mcp.transport import sse

RECONNECT_MS: Final = 1000
"""The `retry` of a priming event: milliseconds a client waits before resuming a dropped
stream."""


async def stream_out(
    receive: Receive,
    send: Send,
    stream: EventStream,
    extra: list[tuple[bytes, bytes]],
    *,
    modern: bool,
    after: int = 0,
    sse_only: bool = False,
    primed: bool = False,
) -> str:
    """Answer from `stream`: plain JSON if the reply comes first, else SSE until the reply.

    A `primed` SSE answer opens with a priming event, so a client that loses the connection
    before the first message can still resume. Returns how it answered (`json` or `sse`);
    returns early, without error, if the client disconnects.
    """
    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_disconnect, receive, tg.cancel_scope)
        started = False
        async for seq, data in stream.follow(after):
            if not started and not sse_only and stream.finished and seq == stream.seq:
                await reply(send, status_of(data) if modern else 200, data, [*JSON_HEADERS, *extra])
                tg.cancel_scope.cancel()
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
        else:
            if not started:  # the stream ended with nothing in it (its session was closed)
                await reply(send, 200, b"", [*SSE_HEADERS, *extra])
            else:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        tg.cancel_scope.cancel()
    return "sse"


def status_of(data: bytes) -> int:
    """The HTTP status of a 2026-07-28 reply: errors the spec maps, else 200."""
    if b'"error"' not in data:
        return 200
    reply = orjson.loads(data)
    error = jsonrpc.as_object(reply.get("error"))
    code = error.get("code") if error is not None else None
    return ERROR_CODE_HTTP_STATUS.get(code, 200) if isinstance(code, int) else 200
