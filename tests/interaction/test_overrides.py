"""Overrides in memory: the client sees the tool as configured, the service gets its own name
and the fixed arguments, policy and audit use the canonical name of the service's own tool."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from tests.interaction.harness import Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

OVERRIDES = {
    "tools": {
        "readFileText": {
            "name": "read",
            "description": "Read a UTF-8 text file under the notes folder.",
            "annotations": {"openWorldHint": False},
            "fixed": {"encoding": "utf-8"},
        },
        "deleteFile": {"hide": True},
    }
}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool(name="readFileText", description="Read a file.")
    def read(path: str, encoding: str) -> str:
        return f"{path} as {encoding}"

    @server.tool(name="deleteFile")
    def delete(path: str) -> str:
        return f"deleted {path}"

    return Tap(sdk_service(server))


async def _call(client: Any, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return await client.request("tools/call", {"name": name, "arguments": arguments})


async def test_the_client_sees_the_override_and_the_service_its_own_tool() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, {"audit": {"include_arguments": True}}, {"fs": OVERRIDES}) as gw:
        client = gw.client()
        await client.initialize()
        [tool] = (await client.request("tools/list"))["result"]["tools"]
        assert tool["name"] == "fs.read"
        assert tool["description"] == "Read a UTF-8 text file under the notes folder."
        assert tool["annotations"]["openWorldHint"] is False
        assert list(tool["inputSchema"]["properties"]) == ["path"]
        assert tool["inputSchema"]["required"] == ["path"]

        ran = await _call(client, "fs.read", {"path": "a.txt"})
        assert ran["result"]["content"][0]["text"] == "a.txt as utf-8"
        [upstream] = fs.of("tools/call")
        assert upstream["params"]["name"] == "readFileText"
        assert upstream["params"]["arguments"] == {"path": "a.txt", "encoding": "utf-8"}
        call = await gw.audit.wait_for(event="call", name="fs.readFileText")
        assert call.arguments == {"path": "a.txt", "encoding": "utf-8"}


async def test_a_fixed_argument_passed_by_the_client_is_refused_and_never_sent() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, None, {"fs": OVERRIDES}) as gw:
        client = gw.client()
        await client.initialize()
        refused = await _call(client, "fs.read", {"path": "a.txt", "encoding": "latin-1"})
        assert refused["error"]["code"] == codes.INVALID_PARAMS
        assert fs.of("tools/call") == []


async def test_hidden_and_renamed_tools_are_unknown_by_their_own_names() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, None, {"fs": OVERRIDES}) as gw:
        client = gw.client()
        await client.initialize()
        for name in ("fs.deleteFile", "fs.readFileText"):
            refused = await _call(client, name, {"path": "a.txt"})
            assert refused["error"]["code"] == codes.INVALID_PARAMS, name
        assert fs.of("tools/call") == []


async def test_policy_matches_the_canonical_name_of_the_services_own_tool() -> None:
    config = {"policy": {"deny": ["fs.readFileText"]}}
    async with gateway({"fs": _fs()}, config, {"fs": OVERRIDES}) as gw:
        client = gw.client()
        await client.initialize()
        assert (await client.request("tools/list"))["result"]["tools"] == []
        denied = await _call(client, "fs.read", {"path": "a.txt"})
        assert denied["error"]["code"] == codes.POLICY_DENIED


async def test_rules_see_the_fixed_arguments() -> None:
    config = {
        "rules": [
            {
                "id": "utf8-only",
                "effect": "allow",
                "tools": ["fs.readFileText"],
                "when": "args.encoding == 'utf-8'",
            }
        ]
    }
    async with gateway({"fs": _fs()}, config, {"fs": OVERRIDES}) as gw:
        client = gw.client()
        await client.initialize()
        ran = await _call(client, "fs.read", {"path": "a.txt"})
        assert ran["result"]["content"][0]["text"] == "a.txt as utf-8"
