"""Rate limits and the session cap over HTTP: real gateway processes, the SDK's client in both
eras, and raw requests for the status and headers. Windows are an hour long: the count decides,
not the clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import demo, http_gateway, leaves

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "limits-test-token-0123456789"
OTHER = "other-limits-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER_AUTH = {"Authorization": f"Bearer {OTHER}"}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PRINCIPALS = {"token": TOKEN, "principals": {"other": {"token": OTHER}}}
LIMITED = {**PRINCIPALS, "rateLimits": {"rules": [{"id": "echo", "rate": "2/hour"}]}}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


class Statuses:
    """What the SDK client's HTTP client saw: each response's status and Retry-After."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str | None]] = []

    async def __call__(self, response: httpx2.Response) -> None:
        self.seen.append((response.status_code, response.headers.get("retry-after")))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_sdk_client_over_its_rate_gets_the_error_after_a_429_with_retry_after(
    tmp_path: Path, mode: str
) -> None:
    statuses = Statuses()
    async with http_gateway(tmp_path, {"one": demo()}, LIMITED) as url:
        http = httpx2.AsyncClient(headers=AUTH, event_hooks={"response": [statuses]})
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            for text in ("a", "b"):
                echoed = await client.call_tool("one.echo", {"text": text})
                assert echoed.structured_content == {"result": text}
            with pytest.raises(MCPError) as refused:
                await client.call_tool("one.echo", {"text": "c"})
        # Another principal has a counter of its own.
        other = httpx2.AsyncClient(headers=OTHER_AUTH)
        async with other, Client(streamable_http_client(url, http_client=other)) as client:
            served = await client.call_tool("one.echo", {"text": "d"})

    assert refused.value.code == codes.RATE_LIMITED
    retry_after = refused.value.data["retryAfter"]
    assert 1 <= retry_after <= 3600
    limited = [seen for seen in statuses.seen if seen[0] == 429]
    assert limited == [(429, str(retry_after))]
    assert served.structured_content == {"result": "d"}


async def test_a_raw_handshake_request_over_its_rate_gets_429_json_even_preferring_sse(
    tmp_path: Path,
) -> None:
    config = {**PRINCIPALS, "rateLimits": {"rules": [{"id": "one", "rate": "1/hour"}]}}
    call: dict[str, Any] = {
        "jsonrpc": "2.0",
        "method": "tools/call",
        "params": {"name": "one.echo", "arguments": {"text": "x"}},
    }
    async with (
        http_gateway(tmp_path, {"one": demo()}, config) as url,
        httpx2.AsyncClient(headers={**AUTH, **HEADERS}) as http,
    ):
        opened = await http.post(url, json=INITIALIZE)
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        first = await http.post(url, json={**call, "id": 2}, headers=session)
        second = await http.post(url, json={**call, "id": 3}, headers=session)

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/json"
    body = second.json()
    assert body["id"] == 3
    assert body["error"]["code"] == codes.RATE_LIMITED
    assert second.headers["retry-after"] == str(body["error"]["data"]["retryAfter"])


async def test_a_principal_over_its_session_share_gets_429_while_others_get_in(
    tmp_path: Path,
) -> None:
    config = {**PRINCIPALS, "http": {"maxSessions": 10, "maxSessionsPerPrincipal": 2}}
    async with (
        http_gateway(tmp_path, {"one": demo()}, config) as url,
        httpx2.AsyncClient(headers=HEADERS) as http,
    ):
        held = [(await http.post(url, json=INITIALIZE, headers=AUTH)) for _ in range(2)]
        over = await http.post(url, json=INITIALIZE, headers=AUTH)
        # The 2024-11-05 transport's sessions are the same sessions, under the same share.
        over_sse = await http.get(url.removesuffix("/mcp") + "/sse", headers=AUTH)
        other = await http.post(url, json=INITIALIZE, headers=OTHER_AUTH)
        # An SDK client of the principal over its share is told why, with the code.
        with pytest.raises(BaseExceptionGroup) as refused:  # from the client's task group
            sdk = httpx2.AsyncClient(headers=AUTH)
            async with sdk, Client(streamable_http_client(url, http_client=sdk), mode="legacy"):
                pass
        ended = await http.delete(
            url, headers={**AUTH, "Mcp-Session-Id": held[0].headers["mcp-session-id"]}
        )
        again = await http.post(url, json=INITIALIZE, headers=AUTH)

    assert [r.status_code for r in held] == [200, 200]
    assert over.status_code == 429
    assert over.json()["error"]["code"] == codes.RATE_LIMITED
    assert int(over.headers["retry-after"]) >= 1
    assert over_sse.status_code == 429
    assert over_sse.json()["error"]["code"] == codes.RATE_LIMITED
    assert other.status_code == 200
    errors = [e for e in leaves(refused.value) if isinstance(e, MCPError)]
    assert [e.code for e in errors] == [codes.RATE_LIMITED]
    assert ended.status_code == 200
    assert again.status_code == 200


async def test_without_tokens_only_the_gateways_cap_applies_to_the_one_anonymous_principal(
    tmp_path: Path,
) -> None:
    config = {"http": {"maxSessions": 3, "maxSessionsPerPrincipal": 1}}
    async with (
        http_gateway(tmp_path, {"one": demo()}, config) as url,
        httpx2.AsyncClient(headers=HEADERS) as http,
    ):
        statuses = [(await http.post(url, json=INITIALIZE)).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 503]
