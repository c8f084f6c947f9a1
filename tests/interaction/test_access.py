"""Access settings reloaded in memory: tokens, principals, rules, rate limits and consent change
without a restart; a revoked token stops working at once; a broken edit changes nothing."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from micro_mcp import codes
from micro_mcp.config.model import GatewayConfig
from micro_mcp.gateway.access import RELOADED, RESTART_ONLY, Access
from micro_mcp.gateway.credentials import build_authority
from tests.interaction.harness import Gateway, Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789ab"
NEW_ALICE = "alice-rotated-0123456789"


def _fs(gate: anyio.Event | None = None, began: anyio.Event | None = None) -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def read(path: str) -> str:
        return f"read {path}"

    @server.tool()
    async def wait() -> str:
        assert began is not None and gate is not None
        began.set()
        await gate.wait()
        return "done"

    return Tap(sdk_service(server))


def _config(**extra: Any) -> dict[str, Any]:
    principals = extra.pop("principals", {"alice": {"token": ALICE}, "bob": {"token": BOB}})
    return {"principals": principals, **extra}


def _access(gw: Gateway, *, open_allowed: bool = True) -> Access:
    return Access(
        gw.config,
        build_authority(gw.config, {}),
        gw.dispatcher,
        gw.mesh.clients,
        environ={},
        open_allowed=open_allowed,
    )


def _apply(gw: Gateway, access: Access, config: dict[str, Any]) -> bool:
    """Reload `config`; new clients of the test authenticate against it."""
    parsed = GatewayConfig.model_validate(config)
    applied = access.apply(parsed)
    if applied:
        gw.config = parsed
    return applied


def _read(path: str = "a.txt") -> dict[str, Any]:
    return {"name": "fs.read", "arguments": {"path": path}}


async def test_a_revoked_token_stops_working_at_once_on_its_open_session() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        assert "result" in await alice.request("tools/call", _read())
        rotated = _config(principals={"alice": {"token": NEW_ALICE}, "bob": {"token": BOB}})
        assert _apply(gw, access, rotated)
        refused = await alice.request("tools/call", _read())
        assert refused["error"]["code"] == codes.UNAUTHENTICATED
        assert "result" in await bob.request("tools/call", _read())  # the other is untouched
        renewed = gw.client(NEW_ALICE)
        await renewed.initialize()
        assert "result" in await renewed.request("tools/call", _read())
        assert gw.client(ALICE).session.principal is None


async def test_a_revoked_principals_call_in_flight_is_cancelled_at_the_service() -> None:
    gate, began = anyio.Event(), anyio.Event()
    fs = _fs(gate, began)
    async with gateway({"fs": fs}, _config()) as gw:
        access = _access(gw)
        alice = gw.client(ALICE)
        await alice.initialize()
        alice.send("tools/call", {"name": "fs.wait", "arguments": {}})
        with anyio.fail_after(5):
            await began.wait()
        assert _apply(gw, access, _config(principals={"bob": {"token": BOB}}))
        await fs.wait_for("notifications/cancelled")
        gate.set()


async def test_a_changed_policy_applies_to_clients_already_connected() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        bob = gw.client(BOB)
        await bob.initialize()
        assert "result" in await bob.request("tools/call", _read())
        narrowed = {"alice": {"token": ALICE}, "bob": {"token": BOB, "policy": {"deny": ["fs.*"]}}}
        assert _apply(gw, access, _config(principals=narrowed))
        denied = await bob.request("tools/call", _read())
        assert denied["error"]["code"] == codes.POLICY_DENIED
        listed = await bob.request("tools/list", {})
        assert listed["result"]["tools"] == []


async def test_rules_added_by_a_reload_check_the_next_call_and_the_audit_names_them() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        alice = gw.client(ALICE)
        await alice.initialize()
        docs = {
            "id": "docs",
            "effect": "allow",
            "tools": ["fs.read"],
            "when": "under(args.path, 'docs')",
        }
        assert _apply(gw, access, _config(rules=[docs]))
        assert "result" in await alice.request("tools/call", _read("docs/a.md"))
        denied = await alice.request("tools/call", _read("src/a.py"))
        assert denied["error"]["code"] == codes.POLICY_DENIED
        records = [e for e in gw.audit.of(event="call") if e.decision == "deny"]
        assert records[-1].reason is not None and "'docs'" in records[-1].reason


async def test_rate_limits_added_by_a_reload_count_and_keep_counting_across_reloads() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        alice = gw.client(ALICE)
        await alice.initialize()
        limit = {"rules": [{"id": "two", "rate": "2/hour", "subjects": ["fs.*"]}]}
        assert _apply(gw, access, _config(rateLimits=limit))
        assert "result" in await alice.request("tools/call", _read())
        # The same limits again (an unrelated edit): the count carries on.
        assert _apply(gw, access, _config(rateLimits=limit, pageSize=1000))
        assert "result" in await alice.request("tools/call", _read())
        limited = await alice.request("tools/call", _read())
        assert limited["error"]["code"] == codes.RATE_LIMITED
        assert _apply(gw, access, _config())  # removed: nothing is counted
        assert gw.dispatcher.rate_limits is None
        assert "result" in await alice.request("tools/call", _read())


async def test_consent_configured_by_a_reload_asks_before_the_next_call() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        alice = gw.client(ALICE)
        await alice.initialize({"elicitation": {}})
        alice.answer = lambda message: {"action": "decline"}
        assert _apply(gw, access, _config(consent={"tools": ["fs.read"]}))
        refused = await alice.request("tools/call", _read())
        assert refused["error"]["code"] == codes.CONSENT_REFUSED


@pytest.mark.parametrize(
    "broken",
    [
        {"rules": [{"id": "typo", "effect": "allow", "tools": ["*"], "when": "arg.path == ''"}]},
        {"principals": {"alice": {"tokenEnv": "UNSET_VARIABLE"}}},
    ],
)
async def test_a_config_that_does_not_compile_changes_nothing(
    broken: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        alice = gw.client(ALICE)
        await alice.initialize()
        with caplog.at_level(logging.ERROR):
            assert not _apply(gw, access, {**_config(), **broken})
        assert "config not reloaded, the running one is kept" in caplog.text
        assert "result" in await alice.request("tools/call", _read())
        assert alice.session.principal is not None and alice.session.principal.name == "alice"


async def test_an_open_config_is_refused_where_the_gateway_faces_the_network() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw, open_allowed=False)
        alice = gw.client(ALICE)
        await alice.initialize()
        assert not _apply(gw, access, {})
        assert "result" in await alice.request("tools/call", _read())


async def test_settings_the_server_is_built_from_wait_for_a_restart_and_say_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        access = _access(gw)
        edited = _config(
            principals={"alice": {"token": ALICE}}, http={"maxSessions": 5}, pageSize=10
        )
        with caplog.at_level(logging.INFO):
            assert _apply(gw, access, edited)
        assert "revoked: bob" in caplog.text
        assert "a restart is needed to apply: http, page_size" in caplog.text
        assert gw.mesh.config.page_size == 1000  # the running catalog keeps its page size


def test_every_config_section_is_either_reloaded_or_named_as_needing_a_restart() -> None:
    # A key added to the config without a place here would be silently ignored by a reload.
    assert set(RELOADED).isdisjoint(RESTART_ONLY)
    assert set(RELOADED) | set(RESTART_ONLY) == set(GatewayConfig.model_fields)
