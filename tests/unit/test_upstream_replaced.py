"""A service reached by URL replaced at the same URL, over a local raw ASGI server: a request
refused at connect is sent again until the new process listens (and fails, naming the refusal,
when none does); one whose kept-alive connection is closed before any answer is sent again once,
one on a fresh connection is not; and a handshake-era session the new process does not know is
initialized anew and the request sent on it."""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.abc
import pytest
from anyio.abc import SocketStream

from micro_mcp import codes
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.upstream import _client
from micro_mcp.upstream._client import client_session, opened
from micro_mcp.upstream.http import HttpChannel
from micro_mcp.upstream.session import UpstreamSession
from tests.fixtures.local_server import Event, Receive, Send, body_of, local_server, respond
from tests.unit.test_upstream_http import LIMIT, Recorder

pytestmark = pytest.mark.anyio

JSON = [(b"content-type", b"application/json")]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _closed_port() -> int:
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_request_refused_at_connect_fails_naming_it_once_the_retry_time_is_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_client, "CONNECT_RETRY", 0.1)
    url = f"http://127.0.0.1:{_closed_port()}/mcp"
    async with client_session(url, {}) as http:
        with anyio.fail_after(5), pytest.raises(UpstreamUnavailable) as refused:
            async with opened(http, "POST", url, {}, b"{}"):
                pass
    assert "Connect call failed" in refused.value.message
    assert refused.value.code == codes.UPSTREAM_UNAVAILABLE


async def test_a_request_refused_at_connect_reaches_the_service_that_starts_listening() -> None:
    async def app(scope: Event, receive: Receive, send: Send) -> None:
        await respond(send, 200, await body_of(receive), JSON)

    answered = anyio.Event()
    replies: list[bytes] = []
    with socket.socket() as listener:  # the port is kept, not yet listening: refused
        listener.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
        async with client_session(url, {}) as http, anyio.create_task_group() as tg:

            async def post() -> None:
                async with opened(http, "POST", url, {}, b'{"n": 1}') as response:
                    replies.append(await response.read())
                answered.set()

            tg.start_soon(post)
            await anyio.wait_all_tasks_blocked()  # refused, waiting to send again
            assert not answered.is_set()
            async with local_server(app, listener):
                with anyio.fail_after(5):
                    await answered.wait()
    assert replies == [b'{"n": 1}']


@asynccontextmanager
async def _raw_server(actions: list[str], seen: list[bytes]) -> AsyncGenerator[str]:
    """An HTTP/1.1 server that takes requests (bodyless or with Content-Length) off each
    connection and, in turn for each, answers it (`answer`) or closes the connection without
    a byte (`close`); every request it read is in `seen`."""

    async def serve(stream: SocketStream) -> None:
        buffered = b""
        async with stream:
            while True:
                while b"\r\n\r\n" not in buffered:
                    try:
                        buffered += await stream.receive()
                    except anyio.EndOfStream:
                        return
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffered) < length:
                    buffered += await stream.receive()
                seen.append(buffered[:length])
                buffered = buffered[length:]
                if actions.pop(0) == "close":
                    return
                await stream.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, serve)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        yield f"http://127.0.0.1:{port}/mcp"
        tg.cancel_scope.cancel()


async def test_a_request_whose_kept_alive_connection_closes_unanswered_is_sent_again_once() -> None:
    seen: list[bytes] = []
    replies: list[bytes] = []
    async with (
        _raw_server(["answer", "close", "answer"], seen) as url,
        client_session(url, {}) as http,
    ):
        with anyio.fail_after(5):
            for body in (b"1", b"2"):
                async with opened(http, "POST", url, {}, body) as response:
                    replies.append(await response.read())
    assert replies == [b"ok", b"ok"]
    assert seen == [b"1", b"2", b"2"]  # the second, closed unanswered, went out again


async def test_a_request_whose_fresh_connection_closes_unanswered_is_not_sent_again() -> None:
    seen: list[bytes] = []
    async with _raw_server(["close", "answer"], seen) as url, client_session(url, {}) as http:
        with anyio.fail_after(5), pytest.raises(UpstreamUnavailable):
            async with opened(http, "POST", url, {}, b"1"):
                pass
    assert seen == [b"1"]  # the service may have run it: not sent twice


async def test_a_session_the_service_forgot_is_initialized_anew_and_the_call_sent_on_it() -> None:
    known: set[str] = set()
    numbers = itertools.count(1)
    calls: list[str | None] = []

    async def app(scope: Event, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await respond(send, 405)
            return
        message = json.loads(await body_of(receive))
        session = dict(scope["headers"]).get(b"mcp-session-id", b"").decode() or None
        headers = list(JSON)
        result: dict[str, Any]
        if message.get("method") == "initialize":
            session = f"s{next(numbers)}"
            known.add(session)
            headers.append((b"mcp-session-id", session.encode()))
            result = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {}}
        elif session not in known:
            await respond(send, 404, b"unknown session")
            return
        else:
            if message.get("method") == "tools/call":
                calls.append(session)
            result = {"session": session}
        if "id" not in message:
            await respond(send, 202)
            return
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"], "result": result}
        await respond(send, 200, json.dumps(reply).encode(), headers)

    async with (
        local_server(app) as url,
        client_session(url, {}) as http,
        anyio.create_task_group() as tg,
    ):
        channel = HttpChannel("svc", url, http, tg, LIMIT)
        session = channel.session = UpstreamSession("svc", channel.send, Recorder())
        with anyio.fail_after(5):
            await session.handshake("handshake", 5)
            assert channel.session_id == "s1"
            known.clear()  # the service was replaced: the new process knows no session
            results = [await session.request("tools/call", {"name": "t"}, timeout=5)]
            results.append(await session.request("tools/call", {"name": "t"}, timeout=5))
        assert results == [{"session": "s2"}, {"session": "s2"}]
        assert calls == ["s2", "s2"]  # the first call, refused on s1, was not run there
        assert channel.session_id == "s2"
        tg.cancel_scope.cancel()
