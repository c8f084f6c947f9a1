"""The era rules toward clients: which era a request belongs to, and how results are dressed."""

from __future__ import annotations

from typing import Any

import pytest

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.eras import dress_result, settle_era
from micro_mcp.protocol.versions import Era

ENVELOPE = {
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"sampling": {}},
        "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
    }
}


async def _nowhere(message: Any, related: Any) -> None:
    raise AssertionError("nothing is sent")


def client() -> ClientSession:
    return ClientSession(_nowhere, None)


def test_the_envelope_settles_a_new_connection_on_2026_and_records_the_client() -> None:
    fresh = client()
    settle_era(fresh, "tools/list", ENVELOPE)
    assert (fresh.era, fresh.version) == (Era.MODERN, "2026-07-28")
    assert fresh.capabilities == {"sampling": {}}
    assert fresh.client_info == {"name": "c", "version": "1"}


def test_initialize_on_a_2026_connection_is_an_unsupported_version() -> None:
    modern = client()
    settle_era(modern, "server/discover", ENVELOPE)
    with pytest.raises(McpError) as refused:
        settle_era(modern, "initialize", {"protocolVersion": "2025-11-25"})
    assert refused.value.code == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert refused.value.data == {"supported": ["2026-07-28"], "requested": "2025-11-25"}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, codes.INVALID_PARAMS),  # server/discover without the envelope
        (
            {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}},
            codes.INVALID_PARAMS,
        ),
        (
            {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "1999-01-01",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
            codes.UNSUPPORTED_PROTOCOL_VERSION,
        ),
    ],
)
def test_a_bad_envelope_is_refused_with_the_spec_code(params: dict[str, Any], code: int) -> None:
    with pytest.raises(McpError) as refused:
        settle_era(client(), "server/discover", params)
    assert refused.value.code == code


def test_a_handshake_connection_refuses_the_envelope_and_requests_before_initialize() -> None:
    early = client()
    with pytest.raises(McpError) as before:
        settle_era(early, "tools/list", {})
    settle_era(early, "ping", {})  # ping is allowed before initialize
    early.era = Era.HANDSHAKE
    with pytest.raises(McpError) as mixed:
        settle_era(early, "tools/list", ENVELOPE)
    assert before.value.code == codes.INVALID_REQUEST
    assert mixed.value.code == codes.INVALID_REQUEST


def test_2026_results_get_result_type_cache_hints_and_the_gateway_identity() -> None:
    result = dress_result(
        Era.MODERN,
        "tools/list",
        {
            "tools": [],
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "upstream"}, "trace": "kept"},
        },
    )
    assert result["resultType"] == "complete"
    assert (result["ttlMs"], result["cacheScope"]) == (0, "private")
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "micro-mcp"
    assert result["_meta"]["trace"] == "kept"
    called = dress_result(Era.MODERN, "tools/call", {"content": []})
    assert "ttlMs" not in called


def test_handshake_results_lose_2026_fields_and_an_input_required_is_refused() -> None:
    upstream = {
        "tools": [],
        "resultType": "complete",
        "ttlMs": 5,
        "cacheScope": "public",
        "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "upstream"}},
    }
    assert dress_result(Era.HANDSHAKE, "tools/list", upstream) == {"tools": []}
    with pytest.raises(McpError) as refused:
        dress_result(
            Era.HANDSHAKE, "tools/call", {"resultType": "input_required", "requestState": "s"}
        )
    assert refused.value.code == codes.MISSING_REQUIRED_CLIENT_CAPABILITY
