"""Progressive discovery in memory: three meta-tools listed, a search and a description that
show only what the caller may list, and a call through `callTool` that meets policy, rules,
rate limits and the audit as a direct call does.

`alice` is denied `fs.secret*`; `bob` may use everything.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.upstream.memory import memory_connector
from tests.interaction.harness import Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
PRINCIPALS = {
    "alice": {"token": ALICE, "policy": {"allow": ["*"], "deny": ["fs.secret*"]}},
    "bob": {"token": BOB},
}
META = ["gateway.searchTools", "gateway.describeTool", "gateway.callTool"]


def _config(**discovery: Any) -> dict[str, Any]:
    return {"principals": PRINCIPALS, "discovery": {"enabled": True, **discovery}}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def read_file(path: str) -> str:
        """Read a text file and return its contents."""
        return f"contents of {path}"

    @server.tool()
    def secret_key() -> str:
        """Return the secret signing key."""
        return "hunter2"

    return Tap(sdk_service(server))


def _web() -> Tap:
    server = MCPServer("web")

    @server.tool()
    def search(query: str) -> str:
        """Search the web for pages."""
        return f"results for {query}"

    return Tap(sdk_service(server))


def _call(tool: str, /, **arguments: Any) -> dict[str, Any]:
    return {"name": tool, "arguments": arguments}


def _found(reply: dict[str, Any]) -> list[str]:
    return [tool["name"] for tool in reply["result"]["structuredContent"]["tools"]]


async def test_tools_list_shows_only_the_meta_tools_when_discovery_is_on() -> None:
    async with gateway({"fs": _fs(), "web": _web()}, _config()) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        listed = await bob.request("tools/list")
        assert [tool["name"] for tool in listed["result"]["tools"]] == META
        search = listed["result"]["tools"][0]
        assert search["inputSchema"]["required"] == ["query"]


async def test_listing_all_puts_the_meta_tools_before_what_the_caller_may_use() -> None:
    async with gateway({"fs": _fs()}, _config(listing="all")) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        listed = await alice.request("tools/list")
        assert [tool["name"] for tool in listed["result"]["tools"]] == [*META, "fs.read_file"]


async def test_search_ranks_the_tools_by_name_description_and_arguments() -> None:
    async with gateway({"fs": _fs(), "web": _web()}, _config()) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        reply = await bob.request("tools/call", _call(META[0], query="read a text file"))
        assert _found(reply)[0] == "fs.read_file"
        assert reply["result"]["isError"] is False
        first = reply["result"]["structuredContent"]["tools"][0]
        assert first["description"] == "Read a text file and return its contents."
        assert (
            json.loads(reply["result"]["content"][0]["text"])
            == (reply["result"]["structuredContent"])
        )
        assert _found(await bob.request("tools/call", _call(META[0], query="web pages"))) == [
            "web.search"
        ]
        limited = await bob.request("tools/call", _call(META[0], query="file key web", limit=1))
        assert len(_found(limited)) == 1


async def test_search_and_describe_never_show_a_tool_the_caller_may_not_list() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        query = _call(META[0], query="secret signing key")
        assert _found(await bob.request("tools/call", query)) == ["fs.secret_key"]
        assert _found(await alice.request("tools/call", query)) == []

        described = await bob.request("tools/call", _call(META[1], name="fs.secret_key"))
        tool = described["result"]["structuredContent"]["tool"]
        assert tool["name"] == "fs.secret_key"
        assert "inputSchema" in tool
        hidden = await alice.request("tools/call", _call(META[1], name="fs.secret_key"))
        assert hidden["result"]["isError"] is True
        assert "structuredContent" not in hidden["result"]
        assert fs.of("tools/call") == []


async def test_call_tool_reaches_the_service_by_its_own_name_and_is_audited_as_the_target() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        reply = await bob.request(
            "tools/call", _call(META[2], name="fs.read_file", arguments={"path": "a.txt"})
        )
        assert reply["result"]["content"][0]["text"] == "contents of a.txt"
        (sent,) = fs.of("tools/call")
        assert sent["params"]["name"] == "read_file"
        assert sent["params"]["arguments"] == {"path": "a.txt"}
        calls = gw.audit.of(event="call", method="tools/call", name="fs.read_file")
        assert [call.decision for call in calls] == ["allow"]


async def test_call_tool_to_a_denied_tool_is_refused_before_the_service() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        denied = await alice.request("tools/call", _call(META[2], name="fs.secret_key"))
        assert denied["error"]["code"] == codes.POLICY_DENIED
        unknown = await alice.request("tools/call", _call(META[2], name="fs.nothing"))
        assert unknown["error"]["code"] == codes.INVALID_PARAMS
        assert fs.of("tools/call") == []
        assert [e.decision for e in gw.audit.of(event="call", name="fs.secret_key")] == ["deny"]


async def test_call_tool_counts_on_the_target_tools_rate_limit() -> None:
    fs = _fs()
    config = {
        **_config(),
        "rateLimits": {"rules": [{"id": "reads", "subjects": ["fs.read_file"], "rate": "1/hour"}]},
    }
    async with gateway({"fs": fs}, config) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        call = _call(META[2], name="fs.read_file", arguments={"path": "a"})
        assert "result" in await bob.request("tools/call", call)
        limited = await bob.request("tools/call", call)
        assert limited["error"]["code"] == codes.RATE_LIMITED
        direct = await bob.request("tools/call", _call("fs.read_file", path="a"))
        assert direct["error"]["code"] == codes.RATE_LIMITED
        assert len(fs.of("tools/call")) == 1


async def test_call_tool_meets_the_rules_on_the_targets_arguments() -> None:
    fs = _fs()
    rules = [
        {
            "id": "docs-only",
            "effect": "allow",
            "tools": ["fs.read_file"],
            "when": 'args.path.startsWith("docs/")',
        },
    ]
    async with gateway({"fs": fs}, {**_config(), "rules": rules}) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        ok = await bob.request(
            "tools/call", _call(META[2], name="fs.read_file", arguments={"path": "docs/a"})
        )
        assert ok["result"]["content"][0]["text"] == "contents of docs/a"
        denied = await bob.request(
            "tools/call", _call(META[2], name="fs.read_file", arguments={"path": "etc/passwd"})
        )
        assert denied["error"]["code"] == codes.POLICY_DENIED
        assert [m["params"]["arguments"]["path"] for m in fs.of("tools/call")] == ["docs/a"]


async def test_call_tool_refuses_a_meta_tool_as_target_and_arguments_not_an_object() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        bad_calls: list[dict[str, Any]] = [
            {"name": META[2], "arguments": {}},
            {"name": "fs.read_file", "arguments": [1]},
            {"arguments": {}},
        ]
        for arguments in bad_calls:
            reply = await bob.request("tools/call", {"name": META[2], "arguments": arguments})
            assert reply["error"]["code"] == codes.INVALID_PARAMS, arguments
        bad = await bob.request("tools/call", _call(META[0], query="file", limit=0))
        assert bad["error"]["code"] == codes.INVALID_PARAMS


async def test_meta_tools_take_their_names_from_the_config_and_answer_a_modern_client() -> None:
    names = {"search": "find_tools", "describe": "tool_info", "call": "run_tool"}
    async with gateway({"fs": _fs()}, _config(names=names)) as gw:
        client = gw.client(BOB)
        listed = await client.request("tools/list", {"_meta": modern_meta()})
        assert [tool["name"] for tool in listed["result"]["tools"]] == list(names.values())
        found = await client.request(
            "tools/call", {**_call("find_tools", query="read file"), "_meta": modern_meta()}
        )
        assert _found(found)[0] == "fs.read_file"
        old = await client.request(
            "tools/call", {**_call(META[0], query="read file"), "_meta": modern_meta()}
        )
        assert old["error"]["code"] == codes.INVALID_PARAMS


async def test_without_discovery_the_meta_tools_do_not_exist() -> None:
    async with gateway({"fs": _fs()}, {"principals": PRINCIPALS}) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        listed = await bob.request("tools/list")
        assert [tool["name"] for tool in listed["result"]["tools"]] == [
            "fs.read_file",
            "fs.secret_key",
        ]
        reply = await bob.request("tools/call", _call(META[0], query="file"))
        assert reply["error"]["code"] == codes.INVALID_PARAMS


async def test_discovery_without_the_search_extra_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for module in ("micro_mcp.gateway.core.discovery", "micro_mcp.registry.search"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "bm25s", None)  # as if not installed: import fails
    manifest = Manifest.model_validate({"mcpServers": {}})
    mesh = Mesh(manifest, GatewayConfig.model_validate(_config()), Path("."), memory_connector({}))
    with pytest.raises(ConfigError, match=r"\.\[search\]"):
        Dispatcher(mesh, MemoryAuditSink())


async def test_call_tool_asks_for_consent_on_the_target_tool() -> None:
    fs = _fs()
    config = {**_config(), "consent": {"tools": ["fs.read_file"]}}
    async with gateway({"fs": fs}, config) as gw:
        bob = gw.client(BOB)
        await bob.initialize({"elicitation": {}})
        questions: list[str] = []

        def answer(message: dict[str, Any]) -> dict[str, Any]:
            questions.append(message["method"])
            return {"action": "decline"}

        bob.answer = answer
        call = _call(META[2], name="fs.read_file", arguments={"path": "a"})
        refused = await bob.request("tools/call", call)
        assert refused["error"]["code"] == codes.CONSENT_REFUSED
        assert questions == ["elicitation/create"]
        assert fs.of("tools/call") == []
        (decision,) = gw.audit.of(event="consent")
        assert (decision.name, decision.consent) == ("fs.read_file", "declined")
