"""A service reached by URL: the headers each request carries to it."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp.shared.inbound import encode_header_value

from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era
from micro_mcp.upstream._client import client_session
from micro_mcp.upstream.http import HttpChannel
from micro_mcp.upstream.session import UpstreamSession
from tests.fixtures.local_server import SSE, Event, Receive, Send, body_of, local_server, respond

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Quiet:
    """A handler for services that start nothing; it keeps the requests whose stream paused."""

    def __init__(self) -> None:
        self.paused: list[RequestId] = []

    async def on_notification(self, session: UpstreamSession, message: Message) -> None:
        raise AssertionError(message)

    async def on_request(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        raise AssertionError(message)

    def on_stream_paused(self, session: UpstreamSession, request_id: RequestId) -> None:
        self.paused.append(request_id)


WEATHER = {
    "name": "weather",
    "inputSchema": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "days": {"type": "integer", "x-mcp-header": "Days"},
            "note": {"type": "string"},
        },
    },
}
BROKEN = {  # `number` may not carry x-mcp-header: a client sends no header for this tool
    "name": "broken",
    "inputSchema": {"type": "object", "properties": {"x": {"type": "number", "x-mcp-header": "X"}}},
}


def headers_of(scope: Event) -> dict[str, str]:
    """The request's headers, by their lower-case names."""
    return {name.decode(): value.decode() for name, value in scope["headers"]}


async def _calls(*requests: tuple[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Send `requests` to a 2026-07-28 service that lists WEATHER and BROKEN; its headers seen."""
    seen: list[dict[str, str]] = []

    async def service(scope: Event, receive: Receive, send: Send) -> None:
        body = json.loads(await body_of(receive))
        seen.append(headers_of(scope))
        result = {"tools": [WEATHER, BROKEN]} if body["method"] == "tools/list" else {}
        reply = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result})
        await respond(send, 200, reply.encode(), [(b"content-type", b"application/json")])

    with anyio.fail_after(5):
        async with (
            local_server(service) as url,
            client_session(url, {}) as http,
            anyio.create_task_group() as tg,
        ):
            channel = HttpChannel("w", url, http, tg, 1 << 20)
            session = channel.session = UpstreamSession("w", channel.send, _Quiet())
            session.era = Era.MODERN
            for method, params in requests:
                await session.request(method, params, timeout=5)
    return seen


async def test_a_call_mirrors_the_arguments_its_tool_annotates_into_mcp_param_headers() -> None:
    arguments = {"region": "Zürich ", "days": 3, "note": "not annotated"}
    *_, call = await _calls(
        ("tools/list", {}), ("tools/call", {"name": "weather", "arguments": arguments})
    )
    assert call["mcp-name"] == "weather"
    assert call["mcp-param-region"] == encode_header_value("Zürich ")  # the =?base64?...?= form
    assert call["mcp-param-region"].startswith("=?base64?")
    assert call["mcp-param-days"] == "3"
    assert not [name for name in call if name.startswith("mcp-param-") and "note" in name]


async def test_no_mcp_param_headers_for_a_tool_not_listed_yet_or_badly_annotated() -> None:
    before, _, broken = await _calls(
        ("tools/call", {"name": "weather", "arguments": {"region": "north"}}),
        ("tools/list", {}),
        ("tools/call", {"name": "broken", "arguments": {"x": 1.5}}),
    )
    for headers in (before, broken):
        assert [name for name in headers if name.startswith("mcp-param-")] == []


async def test_a_task_request_names_its_task_in_mcp_name() -> None:
    (get,) = await _calls(("tasks/get", {"taskId": "t/1 é"}))
    assert get["mcp-method"] == "tasks/get"
    assert get["mcp-name"] == encode_header_value("t/1 é")


async def test_a_stream_the_service_closes_before_the_reply_is_resumed_with_last_event_id() -> None:
    # SEP-1699 polling, in the handshake era: the service primes the stream, closes it, and
    # sends the reply when the client comes back with the last id it saw.
    gets: list[dict[str, str]] = []

    async def service(scope: Event, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            rid = json.loads(await body_of(receive))["id"]
            await respond(send, 200, f"id: s-{rid}-0\nretry: 1\ndata: \n\n".encode(), SSE)
            return
        headers = headers_of(scope)
        gets.append(headers)
        rid = int(headers["last-event-id"].split("-")[1])
        reply = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"done": True}})
        await respond(send, 200, f"id: s-{rid}-1\ndata: {reply}\n\n".encode(), SSE)

    result: dict[str, Any] = {}
    handler = _Quiet()
    with anyio.fail_after(5):
        async with (
            local_server(service) as url,
            client_session(url, {}) as http,
            anyio.create_task_group() as tg,
        ):
            channel = HttpChannel("w", url, http, tg, 1 << 20)
            channel.session_id, channel.version = "session-1", "2025-11-25"
            session = channel.session = UpstreamSession("w", channel.send, handler)
            result = await session.request("tools/call", {"name": "poll"}, timeout=5)
    assert result == {"done": True}
    [get] = gets
    # The handler heard of the pause once, for the request whose stream it was.
    assert handler.paused == [int(get["last-event-id"].split("-")[1])]
    assert get["mcp-session-id"] == "session-1"
    assert get["last-event-id"].endswith("-0")
