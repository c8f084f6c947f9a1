"""A service reached by URL, over httpx2's in-memory transport: how its SSE answers are read."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest

from micro_mcp import codes
from micro_mcp.errors import UpstreamError
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.upstream import http as upstream_http
from micro_mcp.upstream.http import HttpChannel
from micro_mcp.upstream.session import UpstreamSession

pytestmark = pytest.mark.anyio

LIMIT = 64 * 1024
CHUNK = 4096
SSE = {"content-type": "text/event-stream"}
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


@asynccontextmanager
async def channel_to(
    answer: Callable[[httpx2.Request], httpx2.Response], handler: Recorder | None = None
) -> AsyncGenerator[HttpChannel]:
    """A channel (with its session) to a service that answers each HTTP request with `answer`."""
    transport = httpx2.MockTransport(answer)
    async with (
        httpx2.AsyncClient(transport=transport) as http,
        anyio.create_task_group() as tg,
    ):
        channel = HttpChannel("svc", "http://svc.test/mcp", http, tg, LIMIT)
        channel.session = UpstreamSession("svc", channel.send, handler or Recorder())
        yield channel
        tg.cancel_scope.cancel()


def sse_reply(request: httpx2.Request, result: Any, end: bytes = b"\n") -> bytes:
    """One event answering `request` with `result`, JSON left unescaped as encoders send it."""
    reply = {"jsonrpc": "2.0", "id": json.loads(request.content)["id"], "result": result}
    data = json.dumps(reply, ensure_ascii=False).encode()
    return b"event: message" + end + b"data: " + data + end + end


class Endless:
    """A body of `opening` and then one data line far longer than LIMIT, counting what is read."""

    def __init__(self, opening: bytes) -> None:
        self.opening = opening
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.opening
        # 64 times the limit, then the body ends: a reader that buffers it all is seen doing so.
        for _ in range(64 * LIMIT // CHUNK):
            self.pulled += CHUNK
            yield b"x" * CHUNK


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"])
async def test_a_reply_keeps_the_line_separators_json_leaves_unescaped(end: bytes) -> None:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers=SSE, content=sse_reply(request, {"t": SEPARATORS}, end))

    async with channel_to(answer) as channel:
        assert channel.session is not None
        with anyio.fail_after(5):
            result = await channel.session.request("tools/call", {"name": "t"}, timeout=5)
    assert result == {"t": SEPARATORS}


async def test_an_endless_event_fails_its_request_at_once_having_read_about_the_limit() -> None:
    bodies: list[Endless] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        rid = json.loads(request.content)["id"]
        bodies.append(Endless(b'data: {"jsonrpc":"2.0","id":%d,"result":"' % rid))
        return httpx2.Response(200, headers=SSE, content=bodies[-1])

    async with channel_to(answer) as channel:
        assert channel.session is not None
        with anyio.fail_after(5), pytest.raises(UpstreamError) as refused:
            await channel.session.request("tools/call", {"name": "t"}, timeout=5)
    assert refused.value.code == codes.MESSAGE_TOO_LARGE
    assert bodies[0].pulled < 2 * LIMIT, f"read {bodies[0].pulled} bytes of one event"


async def test_the_standalone_stream_resumes_after_the_last_event_before_an_oversized_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_http, "RECONNECT_DELAY", 0.0)
    note = b'{"jsonrpc":"2.0","method":"notifications/message","params":{"t":"\xe2\x80\xa8"}}'
    first = Endless(b"id: e-1\ndata: " + note + b"\n\ndata: ")
    resumed_after: list[str | None] = []
    resumed = anyio.Event()

    def answer(request: httpx2.Request) -> httpx2.Response:
        if not resumed_after and request.method == "GET":
            resumed_after.append(None)
            return httpx2.Response(200, headers=SSE, content=first)
        resumed_after.append(request.headers.get("last-event-id"))
        resumed.set()
        return httpx2.Response(404)  # no stream any more: the channel stops following

    recorder = Recorder()
    async with channel_to(answer, recorder) as channel:
        channel.session_id = "s-1"
        channel.tg.start_soon(channel.follow_standalone)
        with anyio.fail_after(5):
            await resumed.wait()
    assert resumed_after == [None, "e-1"]
    assert [note["params"] for note in recorder.notes] == [{"t": "\u2028"}]
    assert first.pulled < 2 * LIMIT, f"read {first.pulled} bytes of one event"
