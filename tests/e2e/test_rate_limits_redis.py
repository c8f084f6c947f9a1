"""Rate limits shared through a real `redis-server`: two gateway processes count on one limit;
Redis going down refuses limited calls (`failureMode: closed`, HTTP 503) or lets them through
uncounted (`open`), and coming back restores counting. Windows are an hour long."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from micro_mcp.config.rate_limits import RateLimitsSpec
from micro_mcp.errors import RateLimited
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry.recorder import Recorder
from tests.e2e.conftest import demo, http_gateway
from tests.e2e.redis_server import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "redis-limits-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A `redis-server` of the test's own on a free port, stopped after it."""
    async with redis_server(tmp_path) as server:
        yield server


def _config(store: str, rate: str, mode: str = "closed") -> dict[str, Any]:
    rule = {"id": "shared", "rate": rate}
    return {"token": TOKEN, "rateLimits": {"rules": [rule], "storage": store, "failureMode": mode}}


async def _echo(url: str, text: str) -> httpx2.Response:
    """One 2026-07-28 `tools/call` of `one.echo`, raw, for its status and headers."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "one.echo", "arguments": {"text": text}, "_meta": MODERN_META},
    }
    headers = {
        **AUTH,
        "Accept": "application/json, text/event-stream",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "one.echo",
        "MCP-Protocol-Version": "2026-07-28",
    }
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers=headers)


async def test_two_gateways_share_one_limit_through_redis(
    tmp_path: Path, redis: RedisServer
) -> None:
    config = _config(redis.url, "3/hour")
    async with AsyncExitStack() as stack:
        clients: list[Client] = []
        for name in ("a", "b"):  # each gateway in a folder of its own: its files, its log
            folder = tmp_path / name
            folder.mkdir()
            url = await stack.enter_async_context(http_gateway(folder, {"one": demo()}, config))
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=AUTH))
            client = Client(streamable_http_client(url, http_client=http))
            clients.append(await stack.enter_async_context(client))
        a, b = clients
        await a.call_tool("one.echo", {"text": "1"})
        await a.call_tool("one.echo", {"text": "2"})
        await b.call_tool("one.echo", {"text": "3"})  # the third of three, on the other gateway
        with pytest.raises(MCPError) as on_b:
            await b.call_tool("one.echo", {"text": "4"})
        with pytest.raises(MCPError) as on_a:
            await a.call_tool("one.echo", {"text": "5"})

    assert on_b.value.code == on_a.value.code == codes.RATE_LIMITED


async def test_with_redis_down_limited_calls_get_503_and_counting_resumes_when_it_returns(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, _config(redis.url, "2/hour")) as url:
        before = await _echo(url, "before")
        await redis.stop()
        down = await _echo(url, "down")
        await redis.start()  # empty again: it keeps nothing on disk
        after = [await _echo(url, f"after {n}") for n in range(3)]

    assert before.status_code == 200 and "result" in before.json()
    assert down.status_code == 503
    assert down.json()["error"]["code"] == codes.RATE_LIMIT_UNAVAILABLE
    assert [r.status_code for r in after] == [200, 200, 429]


def _exchange() -> Exchange:
    async def deliver(message: jsonrpc.Message, related: jsonrpc.RequestId | None) -> None:
        pass

    client = ClientSession(deliver, Principal("alice", Policy()))
    return Exchange(client, 1, "tools/call", {}, 0.0, 1)


async def test_failing_open_a_call_passes_uncounted_while_redis_is_down(
    redis: RedisServer,
) -> None:
    route = Route(namespace="fs", name="read", subject="fs.read")
    spec = RateLimitsSpec.model_validate(
        {"rules": [{"id": "r", "rate": "1/hour"}], "storage": redis.url, "failureMode": "open"}
    )
    recorder = Recorder()
    async with RateLimits.open(spec, recorder) as limits:
        assert limits is not None
        await limits.check(_exchange(), route)
        with pytest.raises(RateLimited):
            await limits.check(_exchange(), route)
        await redis.stop()
        for _ in range(3):
            await limits.check(_exchange(), route)  # no store, no count: through
        assert not await limits.reachable()
    errors = recorder.metrics.registry.get_sample_value(
        "micro_mcp_rate_limit_store_errors_total", {"failure_mode": "open"}
    )
    assert errors == 3.0
