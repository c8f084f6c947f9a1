"""Profiles in memory: a client sees only its profile's items, a call outside it is an unknown
tool, policy still applies inside, a principal held to a profile sees it on `/mcp`, and a list
change reaches only the clients whose profile may hold the service."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from tests.interaction.harness import Client, Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
TOOLS_CHANGED = "notifications/tools/list_changed"
PROFILES = {
    "files": {"services": ["fs"], "exclude": ["fs.delete*"], "description": "files only"},
    "web": {"tags": ["web"]},
    "readers": {"include": ["*.read*"]},
}


def _service(name: str, *tools: str) -> Tap:
    server = MCPServer(name)
    for tool in tools:
        server.add_tool(lambda tool=tool: f"{name}.{tool} ran", name=tool)
    return Tap(sdk_service(server))


def _services() -> dict[str, Tap]:
    return {
        "fs": _service("fs", "readFile", "writeFile", "deleteFile"),
        "http": _service("http", "fetch", "readPage"),
    }


async def _tools(client: Client) -> list[str]:
    return [tool["name"] for tool in (await client.request("tools/list"))["result"]["tools"]]


async def _call(client: Client, name: str) -> dict[str, Any]:
    return await client.request("tools/call", {"name": name, "arguments": {}})


async def test_a_client_on_a_profile_sees_and_calls_only_what_it_holds() -> None:
    services = _services()
    config = {"profiles": PROFILES}
    async with gateway(services, config, {"http": {"tags": ["web"]}}) as gw:
        whole, files, web, readers = (gw.client() for _ in range(4))
        files.session.profile, web.session.profile = "files", "web"
        readers.session.profile = "readers"
        for client in (whole, files, web, readers):
            await client.initialize()
        assert len(await _tools(whole)) == 5
        assert await _tools(files) == ["fs.readFile", "fs.writeFile"]
        assert await _tools(web) == ["http.fetch", "http.readPage"]
        assert await _tools(readers) == ["fs.readFile", "http.readPage"]

        ran = await _call(files, "fs.writeFile")
        assert ran["result"]["content"][0]["text"] == "fs.writeFile ran"
        for client, name in ((files, "http.fetch"), (files, "fs.deleteFile"), (web, "fs.readFile")):
            refused = await _call(client, name)
            assert refused["error"]["code"] == codes.INVALID_PARAMS, name
            assert refused["error"] == (await _call(client, "fs.noSuchTool"))["error"] | {
                "message": refused["error"]["message"]
            }
        assert [c["params"]["name"] for c in services["fs"].of("tools/call")] == ["writeFile"]
        assert services["http"].of("tools/call") == []
        assert gw.audit.of(decision="deny") == [], "outside the profile is unknown, not denied"
        assert len(gw.audit.of(event="call", method="tools/call", decision=None)) == 6


async def test_policy_still_applies_inside_a_profile() -> None:
    config = {"profiles": PROFILES, "policy": {"deny": ["fs.write*"]}}
    async with gateway(_services(), config) as gw:
        client = gw.client()
        client.session.profile = "files"
        await client.initialize()
        assert await _tools(client) == ["fs.readFile"]
        denied = await _call(client, "fs.writeFile")
        assert denied["error"]["code"] == codes.POLICY_DENIED


async def test_a_principal_held_to_a_profile_sees_it_without_asking_and_no_other() -> None:
    config = {
        "profiles": PROFILES,
        "token": "default-token-0123456789",
        "principals": {
            "alice": {
                "tokenSha256": hashlib.sha256(ALICE.encode()).hexdigest(),
                "profiles": ["readers", "files"],
            }
        },
    }
    async with gateway(_services(), config) as gw:
        alice, elsewhere, chosen = gw.client(ALICE), gw.client(ALICE), gw.client(ALICE)
        elsewhere.session.profile, chosen.session.profile = "web", "files"
        for client in (alice, elsewhere, chosen):
            await client.initialize()
        assert await _tools(alice) == ["fs.readFile", "http.readPage"]
        assert await _tools(chosen) == ["fs.readFile", "fs.writeFile"]
        refused = await elsewhere.request("tools/list")
        assert refused["error"]["code"] == codes.POLICY_DENIED
        assert gw.dispatcher.profiles is not None
        principal = alice.session.principal
        assert principal is not None
        assert [gw.dispatcher.profiles.admits(principal, p) for p in ("files", "web", None)] == [
            True,
            False,
            True,
        ]


async def test_a_list_change_reaches_only_clients_whose_profile_may_hold_the_service() -> None:
    services = _services()
    async with gateway(services, {"profiles": PROFILES}, {"http": {"tags": ["web"]}}) as gw:
        whole, files, web = gw.client(), gw.client(), gw.client()
        files.session.profile, web.session.profile = "files", "web"
        for client in (whole, files, web):
            await client.initialize()
        await services["http"].send(jsonrpc.notification(TOOLS_CHANGED))
        await whole.notification(TOOLS_CHANGED)
        await web.notification(TOOLS_CHANGED)
        await services["fs"].send(jsonrpc.notification(TOOLS_CHANGED))
        await whole.notification(TOOLS_CHANGED)
        await files.notification(TOOLS_CHANGED)
        # Had http's change reached `files`, it would have been delivered before web's; a ping
        # answered after both changes pulls in whatever came before it.
        await files.request("ping")
        changes = [m for m, _ in files.deliveries if m.get("method") == TOOLS_CHANGED]
        assert len(changes) == 1


async def test_without_profiles_the_dispatcher_holds_none() -> None:
    async with gateway(_services()) as gw:
        assert gw.dispatcher.profiles is None
        assert gw.mesh.notifier.scope is None


async def test_a_principal_held_to_a_profile_the_gateway_does_not_serve_sees_nothing() -> None:
    async with gateway(_services(), {"profiles": PROFILES}) as gw:
        client = gw.client()
        # As after a config reload that assigned a profile defined only in the new config.
        client.session.principal = Principal("carol", Policy(profiles=("added-later",)))
        await client.initialize()
        for method, params in (
            ("tools/list", {}),
            ("tools/call", {"name": "fs.readFile", "arguments": {}}),
        ):
            refused = await client.request(method, params)
            assert refused["error"]["code"] == codes.POLICY_DENIED, method
