"""A service reached by URL, over a local raw ASGI server: how its SSE answers are read."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from micro_mcp import codes
from micro_mcp.errors import UpstreamError
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.upstream import http as upstream_http
from micro_mcp.upstream._client import client_session
from micro_mcp.upstream.http import HttpChannel
from micro_mcp.upstream.session import UpstreamSession
from tests.fixtures.local_server import (
    SSE,
    App,
    Event,
    Receive,
    Send,
    body_of,
    local_server,
    respond,
    stream_until_gone,
)

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
CHUNK = b"x" * 4096
SEPARATORS = "line\u2028para\u2029next\u0085end"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Recorder:
    """A session handler that keeps the notifications a service sends."""

    def __init__(self) -> None:
        self.notes: list[Message] = []

    async def on_notification(self, session: UpstreamSession, message: Message) -> None:
        self.notes.append(message)

    async def on_request(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        raise AssertionError(f"unexpected request {message}")

    def on_stream_paused(self, session: UpstreamSession, request_id: RequestId) -> None:
        raise AssertionError(f"unexpected pause of {request_id}")


@asynccontextmanager
async def channel_to(app: App, handler: Recorder | None = None) -> AsyncGenerator[HttpChannel]:
    """A channel (with its session) to a local server running the ASGI `app`."""
    async with (
        local_server(app) as url,
        client_session(url, {}) as http,
        anyio.create_task_group() as tg,
    ):
        channel = HttpChannel("svc", url, http, tg, LIMIT)
        channel.session = UpstreamSession("svc", channel.send, handler or Recorder())
        yield channel
        tg.cancel_scope.cancel()


def sse_reply(body: bytes, result: Any, end: bytes = b"\n") -> bytes:
    """One event answering the request `body` with `result`, JSON left unescaped as encoders
    send it."""
    reply = {"jsonrpc": "2.0", "id": json.loads(body)["id"], "result": result}
    data = json.dumps(reply, ensure_ascii=False).encode()
    return b"event: message" + end + b"data: " + data + end + end


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
async def test_a_reply_keeps_the_line_separators_json_leaves_unescaped(end: bytes) -> None:
    async def app(scope: Event, receive: Receive, send: Send) -> None:
        await respond(send, 200, sse_reply(await body_of(receive), {"t": SEPARATORS}, end), SSE)

    async with channel_to(app) as channel:
        assert channel.session is not None
        with anyio.fail_after(5):
            result = await channel.session.request("tools/call", {"name": "t"}, timeout=5)
    assert result == {"t": SEPARATORS}


async def test_an_endless_event_fails_its_request_at_once_and_closes_its_stream() -> None:
    # The line has no end: a reader that waited for it would never answer. How much of it the
    # reader holds (about the limit) is asserted in test_upstream_events.py: here the kernel's
    # socket buffers take an unknown share of what the server sends.
    closed = anyio.Event()

    async def app(scope: Event, receive: Receive, send: Send) -> None:
        rid = json.loads(await body_of(receive))["id"]
        opening = b'data: {"jsonrpc":"2.0","id":%d,"result":"' % rid
        await stream_until_gone(receive, send, opening, CHUNK)
        closed.set()

    async with channel_to(app) as channel:
        assert channel.session is not None
        with anyio.fail_after(5), pytest.raises(UpstreamError) as refused:
            await channel.session.request("tools/call", {"name": "t"}, timeout=5)
        with anyio.fail_after(5):
            await closed.wait()  # the gateway stopped reading: the service saw the stream closed
    assert refused.value.code == codes.MESSAGE_TOO_LARGE


async def test_the_standalone_stream_resumes_after_the_last_event_before_an_oversized_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_http, "RECONNECT_DELAY", 0.0)
    note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"t":"\xe2\x80\xa8"}}'
    resumed_after: list[str | None] = []
    resumed = anyio.Event()

    async def app(scope: Event, receive: Receive, send: Send) -> None:
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        if not resumed_after and scope["method"] == "GET":
            resumed_after.append(None)
            opening = b"id: e-1\ndata: " + note + b"\n\ndata: "
            await stream_until_gone(receive, send, opening, CHUNK)
            return
        resumed_after.append(headers.get("last-event-id"))
        resumed.set()
        await respond(send, 404)  # no stream any more: the channel stops following

    recorder = Recorder()
    async with channel_to(app, recorder) as channel:
        channel.session_id = "s-1"
        channel.tg.start_soon(channel.follow_standalone)
        with anyio.fail_after(5):
            await resumed.wait()
    assert resumed_after == [None, "e-1"]
    assert [note["params"] for note in recorder.notes] == [{"t": "\u2028"}]


async def test_cancelling_a_request_closes_its_response_stream() -> None:
    answering, closed = anyio.Event(), anyio.Event()

    async def app(scope: Event, receive: Receive, send: Send) -> None:
        await body_of(receive)
        await send({"type": "http.response.start", "status": 200, "headers": SSE})
        await send({"type": "http.response.body", "body": b": working\n\n", "more_body": True})
        answering.set()
        while (await receive())["type"] != "http.disconnect":
            pass
        closed.set()

    async with channel_to(app) as channel:
        assert channel.session is not None
        call = functools.partial(channel.session.request, "tools/call", {"name": "t"}, timeout=5)
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await answering.wait()
                tg.cancel_scope.cancel()
            await closed.wait()
