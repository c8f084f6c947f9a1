"""Routing in memory: names reach the service that owns them, under its own name."""

from __future__ import annotations

import pytest
from mcp.server import MCPServer

from micro_mcp import codes
from tests.interaction.harness import gateway, sdk_service

pytestmark = pytest.mark.anyio


def _named(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool()
    def whoami(note: str) -> str:
        return f"{name}:{note}"

    return server


async def test_each_namespaced_tool_reaches_its_own_service() -> None:
    services = {"fs": sdk_service(_named("fs")), "web": sdk_service(_named("web"))}
    async with gateway(services) as gw:
        client = gw.client()
        await client.initialize()
        for ns in ("fs", "web"):
            reply = await client.request(
                "tools/call", {"name": f"{ns}.whoami", "arguments": {"note": "x"}}
            )
            assert reply["result"]["structuredContent"] == {"result": f"{ns}:x"}


async def test_call_to_unknown_namespace_is_invalid_params_and_audited_without_service() -> None:
    async with gateway({"fs": sdk_service(_named("fs"))}) as gw:
        client = gw.client()
        await client.initialize()
        reply = await client.request("tools/call", {"name": "nope.whoami", "arguments": {}})
        assert reply["error"]["code"] == codes.INVALID_PARAMS
        calls = [e for e in gw.audit.events if e.method == "tools/call"]
        assert [(e.event, e.service) for e in calls] == [("call", None), ("reply", None)]
