"""The catalog in memory: two services' lists merged under namespaces, URIs renamed both ways,
the gateway's own pages and cursors, and refreshes when a service's list changes."""

from __future__ import annotations

from typing import Any

import pytest
from inline_snapshot import snapshot
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage
from mcp_types import (
    Completion,
    CompletionArgument,
    EmbeddedResource,
    ResourceLink,
    TextResourceContents,
)

from micro_mcp import codes
from micro_mcp.gateway.services.catalog_store import SNAPSHOTS_KEPT
from micro_mcp.protocol import jsonrpc
from tests.interaction.harness import Client, Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

TOOLS_CHANGED = "notifications/tools/list_changed"


def _service(name: str) -> MCPServer:
    server = MCPServer(name)

    @server.tool(description=f"{name}'s tool")
    def look() -> str:
        return name

    @server.prompt(description=f"{name}'s prompt")
    def brief() -> str:
        return name

    @server.resource(f"{name}://index", name="index")
    def index() -> str:
        return f"{name} index"

    @server.resource(f"{name}://pages/{{page}}", name="page")
    def page(page: str) -> str:
        return page

    return server


async def _lists(client: Client) -> dict[str, list[dict[str, Any]]]:
    lists: dict[str, list[dict[str, Any]]] = {}
    for method, kind in (
        ("tools/list", "tools"),
        ("prompts/list", "prompts"),
        ("resources/list", "resources"),
        ("resources/templates/list", "resourceTemplates"),
    ):
        lists[kind] = (await client.request(method))["result"][kind]
    return lists


async def test_two_services_lists_merge_under_their_namespaces() -> None:
    services = {"fs": sdk_service(_service("fs")), "web": sdk_service(_service("web"))}
    async with gateway(services) as gw:
        client = gw.client()
        await client.initialize()
        assert await _lists(client) == snapshot(
            {
                "tools": [
                    {
                        "description": "fs's tool",
                        "inputSchema": {
                            "type": "object",
                            "properties": {},
                            "title": "lookArguments",
                        },
                        "name": "fs.look",
                        "outputSchema": {
                            "properties": {"result": {"title": "Result", "type": "string"}},
                            "required": ["result"],
                            "title": "lookOutput",
                            "type": "object",
                        },
                    },
                    {
                        "description": "web's tool",
                        "inputSchema": {
                            "type": "object",
                            "properties": {},
                            "title": "lookArguments",
                        },
                        "name": "web.look",
                        "outputSchema": {
                            "properties": {"result": {"title": "Result", "type": "string"}},
                            "required": ["result"],
                            "title": "lookOutput",
                            "type": "object",
                        },
                    },
                ],
                "prompts": [
                    {"arguments": [], "description": "fs's prompt", "name": "fs.brief"},
                    {"arguments": [], "description": "web's prompt", "name": "web.brief"},
                ],
                "resources": [
                    {
                        "description": "",
                        "mimeType": "text/plain",
                        "name": "index",
                        "uri": "fs+fs://index",
                    },
                    {
                        "description": "",
                        "mimeType": "text/plain",
                        "name": "index",
                        "uri": "web+web://index",
                    },
                ],
                "resourceTemplates": [
                    {
                        "description": "",
                        "mimeType": "text/plain",
                        "name": "page",
                        "uriTemplate": "fs+fs://pages/{page}",
                    },
                    {
                        "description": "",
                        "mimeType": "text/plain",
                        "name": "page",
                        "uriTemplate": "web+web://pages/{page}",
                    },
                ],
            }
        )


async def test_resource_uris_are_renamed_out_and_back_including_uris_inside_results() -> None:
    server = _service("fs")

    @server.tool()
    def links() -> list[ResourceLink | EmbeddedResource]:
        return [
            ResourceLink(type="resource_link", uri="fs://index", name="index"),
            EmbeddedResource(
                type="resource", resource=TextResourceContents(uri="fs://pages/2", text="2")
            ),
        ]

    @server.prompt()
    def quote() -> list[UserMessage]:
        return [UserMessage(ResourceLink(type="resource_link", uri="fs://pages/3", name="3"))]

    @server.completion()
    async def pages(ref: object, argument: CompletionArgument, context: object) -> Completion:
        return Completion(values=[argument.value + "0"])

    fs = Tap(sdk_service(server))
    async with gateway({"fs": fs, "web": sdk_service(_service("web"))}) as gw:
        client = gw.client()
        await client.initialize()
        result = (await client.request("tools/call", {"name": "fs.links", "arguments": {}}))[
            "result"
        ]
        assert [block.get("uri") or block["resource"]["uri"] for block in result["content"]] == [
            "fs+fs://index",
            "fs+fs://pages/2",
        ]
        for exposed, text in (("fs+fs://index", "fs index"), ("fs+fs://pages/2", "2")):
            read = await client.request("resources/read", {"uri": exposed})
            assert read["result"]["contents"] == [
                {"uri": exposed, "mimeType": "text/plain", "text": text}
            ]
        prompt = (await client.request("prompts/get", {"name": "fs.quote"}))["result"]
        assert prompt["messages"][0]["content"]["uri"] == "fs+fs://pages/3"
        completion = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/resource", "uri": "fs+fs://pages/{page}"},
                "argument": {"name": "page", "value": "1"},
            },
        )
        assert completion["result"]["completion"]["values"] == ["10"]
        assert [m["params"]["uri"] for m in fs.of("resources/read")] == [
            "fs://index",
            "fs://pages/2",
        ]
        assert fs.of("completion/complete")[0]["params"]["ref"] == {
            "type": "ref/resource",
            "uri": "fs://pages/{page}",
        }


async def test_lists_are_paged_with_the_gateways_own_cursors() -> None:
    server = MCPServer("fs")
    for i in range(25):
        server.add_tool(lambda: "", name=f"tool{i:02}")
    fs = Tap(sdk_service(server))
    async with gateway({"fs": fs}, {"pageSize": 10}) as gw:
        client = gw.client()
        await client.initialize()
        pages: list[list[str]] = []
        params: dict[str, Any] = {}
        while True:
            result = (await client.request("tools/list", params))["result"]
            pages.append([tool["name"] for tool in result["tools"]])
            if "nextCursor" not in result:
                break
            params = {"cursor": result["nextCursor"]}
        assert [len(page) for page in pages] == [10, 10, 5]
        assert [name for page in pages for name in page] == [f"fs.tool{i:02}" for i in range(25)]
        assert len(fs.of("tools/list")) == 1  # read once at start; the pages are the gateway's


async def test_a_cursor_outlives_a_few_rebuilds_and_then_expires_as_invalid_params() -> None:
    server = MCPServer("fs")
    for i in range(2):
        server.add_tool(lambda: "", name=f"tool{i}")
    fs = Tap(sdk_service(server))
    async with gateway({"fs": fs}, {"pageSize": 1}) as gw:
        client = gw.client()
        await client.initialize()
        cursor = (await client.request("tools/list"))["result"]["nextCursor"]
        for n in range(SNAPSHOTS_KEPT - 1):
            server.add_tool(lambda: "", name=f"new{n}")  # each rebuild lists something new
            await fs.send(jsonrpc.notification(TOOLS_CHANGED))
            await client.notification(TOOLS_CHANGED)
        page = await client.request("tools/list", {"cursor": cursor})
        assert [tool["name"] for tool in page["result"]["tools"]] == ["fs.tool1"]

        server.add_tool(lambda: "", name="newest")
        await fs.send(jsonrpc.notification(TOOLS_CHANGED))
        await client.notification(TOOLS_CHANGED)
        expired = await client.request("tools/list", {"cursor": cursor})
        assert expired["error"]["code"] == codes.INVALID_PARAMS


async def test_a_cursor_of_a_list_that_did_not_change_outlives_any_number_of_rebuilds() -> None:
    server = MCPServer("fs")
    for i in range(2):
        server.add_tool(lambda: "", name=f"tool{i}")
    fs = Tap(sdk_service(server))
    async with gateway({"fs": fs}, {"pageSize": 1}) as gw:
        client = gw.client()
        await client.initialize()
        cursor = (await client.request("tools/list"))["result"]["nextCursor"]
        for _ in range(SNAPSHOTS_KEPT + 1):
            await fs.send(jsonrpc.notification(TOOLS_CHANGED))
            await client.notification(TOOLS_CHANGED)
        page = await client.request("tools/list", {"cursor": cursor})
        assert [tool["name"] for tool in page["result"]["tools"]] == ["fs.tool1"]


async def test_a_services_list_changed_refreshes_the_catalog_and_tells_every_client() -> None:
    server = MCPServer("fs")
    server.add_tool(lambda: "", name="old")
    fs = Tap(sdk_service(server))
    async with gateway({"fs": fs}) as gw:
        first, second, modern = gw.client(), gw.client(), gw.client()
        await first.initialize()
        await second.initialize()
        listen = modern.send(
            "subscriptions/listen",
            {"notifications": {"toolsListChanged": True}, "_meta": modern_meta()},
        )
        await modern.notification("notifications/subscriptions/acknowledged")

        server.add_tool(lambda: "", name="new")
        await fs.send(jsonrpc.notification(TOOLS_CHANGED))
        for client in (first, second):
            assert await client.notification(TOOLS_CHANGED) == {
                "jsonrpc": "2.0",
                "method": TOOLS_CHANGED,
            }
        tagged = await modern.notification(TOOLS_CHANGED)
        assert tagged["params"] == {"_meta": {"io.modelcontextprotocol/subscriptionId": listen}}
        assert (tagged, listen) in modern.deliveries
        tools = (await first.request("tools/list"))["result"]["tools"]
        assert [tool["name"] for tool in tools] == ["fs.old", "fs.new"]
        assert len(fs.of("tools/list")) == 2
