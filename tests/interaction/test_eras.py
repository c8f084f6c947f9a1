"""Both protocol eras in memory: a 2026-07-28 client gets results dressed for it and the
gateway's identity; the handshake-only methods do not exist for it."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.protocol import versions
from micro_mcp.upstream.session import GATEWAY_INFO
from tests.interaction.harness import Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

SERVER_INFO = versions.SERVER_INFO_KEY


def _fs() -> Tap:
    server = MCPServer("fs", version="9.9")

    @server.tool()
    def echo(note: str) -> str:
        return note

    @server.resource("file:///a.txt")
    def a() -> str:
        return "A"

    return Tap(sdk_service(server))


def _modern(params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {**(params or {}), "_meta": modern_meta()}


async def test_a_modern_client_gets_result_type_cache_hints_and_the_gateways_server_info() -> None:
    async with gateway({"fs": _fs()}) as gw:
        client = gw.client()
        for method, params in (
            ("tools/list", {}),
            ("resources/list", {}),
            ("resources/templates/list", {}),
            ("resources/read", {"uri": "fs+file:///a.txt"}),
        ):
            result = (await client.request(method, _modern(params)))["result"]
            assert result["resultType"] == "complete", method
            assert (result["ttlMs"], result["cacheScope"]) == (0, "private"), method
            assert result["_meta"] == {SERVER_INFO: GATEWAY_INFO}, method

        call = await client.request(
            "tools/call", _modern({"name": "fs.echo", "arguments": {"note": "x"}})
        )
        result = call["result"]
        assert (result["resultType"], result["_meta"]) == ("complete", {SERVER_INFO: GATEWAY_INFO})
        assert "ttlMs" not in result and "cacheScope" not in result
        assert result["structuredContent"] == {"result": "x"}


async def test_a_handshake_client_gets_none_of_the_2026_fields() -> None:
    async with gateway({"fs": _fs()}) as gw:
        client = gw.client()
        initialized = (await client.initialize())["result"]
        assert initialized["serverInfo"] == GATEWAY_INFO
        for method, params in (
            ("tools/list", {}),
            ("resources/read", {"uri": "fs+file:///a.txt"}),
            ("tools/call", {"name": "fs.echo", "arguments": {"note": "x"}}),
        ):
            result = (await client.request(method, params))["result"]
            assert not {"resultType", "ttlMs", "cacheScope", "_meta"} & result.keys(), method


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("ping", {}),
        ("logging/setLevel", {"level": "debug"}),
        ("resources/subscribe", {"uri": "fs+file:///a.txt"}),
        ("resources/unsubscribe", {"uri": "fs+file:///a.txt"}),
    ],
)
async def test_handshake_only_methods_are_method_not_found_for_a_modern_client(
    method: str, params: dict[str, Any]
) -> None:
    fs = _fs()
    async with gateway({"fs": fs}) as gw:
        client = gw.client()
        reply = await client.request(method, _modern(params))
        assert reply["error"]["code"] == codes.METHOD_NOT_FOUND
        assert fs.of(method) == []


async def test_initialize_on_a_modern_connection_is_an_unsupported_protocol_version() -> None:
    async with gateway({"fs": _fs()}) as gw:
        client = gw.client()
        discovered = (await client.request("server/discover", _modern()))["result"]
        assert discovered["supportedVersions"] == list(versions.MODERN_VERSIONS)
        assert discovered["_meta"] == {SERVER_INFO: GATEWAY_INFO}
        reply = await client.initialize()
        assert reply["error"]["code"] == codes.UNSUPPORTED_PROTOCOL_VERSION
