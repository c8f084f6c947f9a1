"""Policy in memory: what a principal may not use it does not see, and the service never hears of.

`alice` is denied `fs.secret*`; `bob` may use everything. Each service is wrapped in a `Tap`, so
a test can show that a denied request never reached it while the allowed one did.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from tests.interaction.harness import Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
CONFIG: dict[str, Any] = {
    "principals": {
        "alice": {"token": ALICE, "policy": {"allow": ["*"], "deny": ["fs.secret*"]}},
        "bob": {"token": BOB},
    }
}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def read() -> str:
        return "public"

    @server.tool()
    def secret_key() -> str:
        return "hunter2"

    @server.prompt()
    def summary() -> str:
        return "summarize"

    @server.prompt()
    def secret_plan() -> str:
        return "the plan"

    @server.resource("file:///a.txt")
    def a() -> str:
        return "A"

    @server.resource("secret://keys")
    def keys() -> str:
        return "K"

    @server.resource("file:///{name}.md")
    def markdown(name: str) -> str:
        return name

    @server.resource("secret://{name}")
    def secret(name: str) -> str:
        return name

    return Tap(sdk_service(server))


def _names(reply: dict[str, Any], kind: str, key: str = "name") -> list[str]:
    return [item[key] for item in reply["result"][kind]]


async def test_denied_tool_is_not_listed_and_its_call_is_refused_before_the_service() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()

        assert _names(await alice.request("tools/list"), "tools") == ["fs.read"]
        denied = await alice.request("tools/call", {"name": "fs.secret_key", "arguments": {}})
        assert denied["error"]["code"] == codes.POLICY_DENIED
        assert fs.of("tools/call") == []

        assert _names(await bob.request("tools/list"), "tools") == ["fs.read", "fs.secret_key"]
        allowed = await bob.request("tools/call", {"name": "fs.secret_key", "arguments": {}})
        assert allowed["result"]["content"][0]["text"] == "hunter2"
        assert [m["params"]["name"] for m in fs.of("tools/call")] == ["secret_key"]


async def test_denied_prompt_is_not_listed_and_its_get_is_refused_before_the_service() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()

        assert _names(await alice.request("prompts/list"), "prompts") == ["fs.summary"]
        denied = await alice.request("prompts/get", {"name": "fs.secret_plan"})
        assert denied["error"]["code"] == codes.POLICY_DENIED
        completion = await alice.request(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": "fs.secret_plan"},
                "argument": {"name": "x", "value": ""},
            },
        )
        assert completion["error"]["code"] == codes.POLICY_DENIED
        assert fs.of("prompts/get") == fs.of("completion/complete") == []

        listed = _names(await bob.request("prompts/list"), "prompts")
        assert listed == ["fs.summary", "fs.secret_plan"]
        allowed = await bob.request("prompts/get", {"name": "fs.secret_plan"})
        assert allowed["result"]["messages"][0]["content"]["text"] == "the plan"
        assert [m["params"]["name"] for m in fs.of("prompts/get")] == ["secret_plan"]


async def test_denied_resources_and_templates_are_not_listed_and_not_read_or_subscribed() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()

        resources = await alice.request("resources/list")
        assert _names(resources, "resources", "uri") == ["fs+file:///a.txt"]
        templates = await alice.request("resources/templates/list")
        assert _names(templates, "resourceTemplates", "uriTemplate") == ["fs+file:///{name}.md"]
        for uri in ("fs+secret://keys", "fs+secret://from-the-template"):
            for method in ("resources/read", "resources/subscribe"):
                denied = await alice.request(method, {"uri": uri})
                assert denied["error"]["code"] == codes.POLICY_DENIED, (method, uri)
        assert fs.of("resources/read") == fs.of("resources/subscribe") == []

        resources = await bob.request("resources/list")
        assert _names(resources, "resources", "uri") == ["fs+file:///a.txt", "fs+secret://keys"]
        templates = await bob.request("resources/templates/list")
        assert _names(templates, "resourceTemplates", "uriTemplate") == [
            "fs+file:///{name}.md",
            "fs+secret://{name}",
        ]
        allowed = await bob.request("resources/read", {"uri": "fs+secret://keys"})
        assert allowed["result"]["contents"][0]["text"] == "K"
        assert [m["params"]["uri"] for m in fs.of("resources/read")] == ["secret://keys"]


async def test_wrong_or_missing_token_is_unauthenticated_in_either_era() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        for token in ("wrong-token-0123456789", None):
            handshake = gw.client(token)
            assert (await handshake.initialize())["error"]["code"] == codes.UNAUTHENTICATED
            modern = gw.client(token)
            requests: list[tuple[str, dict[str, Any]]] = [
                ("tools/list", {}),
                ("tools/call", {"name": "fs.read", "arguments": {}}),
                ("resources/read", {"uri": "fs+file:///a.txt"}),
            ]
            for method, params in requests:
                reply = await modern.request(method, {**params, "_meta": modern_meta()})
                assert reply["error"]["code"] == codes.UNAUTHENTICATED, (token, method)
        assert fs.of("tools/call") == fs.of("resources/read") == []
        refused = gw.audit.of(event="reply", outcome="denied", error_code=codes.UNAUTHENTICATED)
        assert len(refused) == 8
