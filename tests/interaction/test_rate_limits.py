"""Rate limits in memory: who and what a rule counts, the refusal's shape, its audit record and
metric, and what an unreachable store does under each failure mode.

Windows are an hour or a day long, so a test's calls all fall in one window however slowly it
runs: the count, never the clock, decides.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from tests.e2e.conftest import free_port
from tests.interaction.harness import Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
PRINCIPALS = {"alice": {"token": ALICE}, "bob": {"token": BOB}}


def _config(*rules: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"principals": PRINCIPALS, "rateLimits": {"rules": list(rules), **options}}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def read() -> str:
        return "read"

    @server.tool()
    def write() -> str:
        return "written"

    @server.prompt()
    def summary() -> str:
        return "summarize"

    @server.resource("file:///a.txt")
    def a() -> str:
        return "A"

    return Tap(sdk_service(server))


def _call(name: str) -> dict[str, Any]:
    return {"name": name, "arguments": {}}


async def test_a_principal_over_its_rate_is_refused_with_retry_after_and_others_go_on() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config({"id": "each", "rate": "2/hour"})) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        for _ in range(2):
            assert "result" in await alice.request("tools/call", _call("fs.read"))
        refused = await alice.request("tools/call", _call("fs.read"))
        served = await bob.request("tools/call", _call("fs.read"))

    error = refused["error"]
    assert error["code"] == codes.RATE_LIMITED
    retry_after = error["data"]["retryAfter"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 3600
    assert "result" in served
    assert len(fs.of("tools/call")) == 3  # alice's two and bob's one: the refused never went


async def test_a_refusal_is_audited_with_its_rule_and_counted_in_a_metric() -> None:
    async with gateway({"fs": _fs()}, _config({"id": "tiny", "rate": "1/day"})) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        await alice.request("tools/call", _call("fs.read"))
        await alice.request("tools/call", _call("fs.read"))
        metrics = gw.dispatcher.telemetry.metrics.registry
        limited = metrics.get_sample_value(
            "micro_mcp_rate_limited_total", {"rule": "tiny", "service": "fs"}
        )
        requests = metrics.get_sample_value(
            "micro_mcp_requests_total",
            {"service": "fs", "tool": "read", "method": "tools/call", "outcome": "limited"},
        )
        reply = await gw.audit.wait_for(event="reply", method="tools/call", outcome="limited")

    assert reply.rate_limit == "tiny"
    assert reply.error_code == codes.RATE_LIMITED
    assert reply.principal == "alice"
    assert reply.name == "fs.read"
    assert [e.rate_limit for e in gw.audit.of(event="reply", outcome="ok")] == [None, None]
    assert limited == 1.0
    assert requests == 1.0


async def test_a_rule_per_name_counts_each_tool_apart_and_leaves_other_subjects_alone() -> None:
    rule = {"id": "fs-tools", "rate": "1/hour", "subjects": ["fs.read", "fs.write"]}
    config = _config({**rule, "per": ["principal", "name"]})
    async with gateway({"fs": _fs()}, config) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        first_read = await alice.request("tools/call", _call("fs.read"))
        first_write = await alice.request("tools/call", _call("fs.write"))
        second_read = await alice.request("tools/call", _call("fs.read"))
        prompts = [await alice.request("prompts/get", {"name": "fs.summary"}) for _ in range(3)]

    assert "result" in first_read and "result" in first_write
    assert second_read["error"]["code"] == codes.RATE_LIMITED
    assert all("result" in reply for reply in prompts)


async def test_a_rule_per_service_counts_tools_prompts_and_resources_together() -> None:
    rule = {"id": "fs-share", "rate": "3/hour", "subjects": ["fs.*"], "per": ["service"]}
    async with gateway({"fs": _fs()}, _config(rule)) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        tool = await alice.request("tools/call", _call("fs.read"))
        prompt = await bob.request("prompts/get", {"name": "fs.summary"})
        resource = await alice.request("resources/read", {"uri": "fs+file:///a.txt"})
        over = await bob.request("resources/read", {"uri": "fs+file:///a.txt"})

    assert all("result" in reply for reply in (tool, prompt, resource))
    assert over["error"]["code"] == codes.RATE_LIMITED


async def test_a_rule_for_named_principals_leaves_the_others_unlimited() -> None:
    config = _config({"id": "bob-only", "rate": "1/hour", "principals": ["bob"]})
    async with gateway({"fs": _fs()}, config) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        alice_replies = [await alice.request("tools/call", _call("fs.read")) for _ in range(3)]
        bob_replies = [await bob.request("tools/call", _call("fs.read")) for _ in range(2)]

    assert all("result" in reply for reply in alice_replies)
    assert "result" in bob_replies[0]
    assert bob_replies[1]["error"]["code"] == codes.RATE_LIMITED


async def test_a_2026_client_gets_the_same_refusal() -> None:
    async with gateway({"fs": _fs()}, _config({"id": "each", "rate": "1/hour"})) as gw:
        alice = gw.client(ALICE)
        params = {**_call("fs.read"), "_meta": modern_meta()}
        first = await alice.request("tools/call", params)
        second = await alice.request("tools/call", params)

    assert "result" in first
    assert second["error"]["code"] == codes.RATE_LIMITED
    assert second["error"]["data"]["retryAfter"] >= 1


async def test_a_quota_and_a_rate_in_one_rule_are_both_enforced() -> None:
    async with gateway({"fs": _fs()}, _config({"id": "both", "rate": "5/hour;2/day"})) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        replies = [await alice.request("tools/call", _call("fs.read")) for _ in range(3)]

    assert ["result" in reply for reply in replies] == [True, True, False]
    assert "2 per 1 day" in replies[2]["error"]["message"]


async def test_lists_and_unlimited_subjects_cost_no_count() -> None:
    rule = {"id": "writes", "rate": "1/hour", "subjects": ["fs.write"]}
    async with gateway({"fs": _fs()}, _config(rule)) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        for _ in range(3):
            assert "result" in await alice.request("tools/list")
            assert "result" in await alice.request("tools/call", _call("fs.read"))
        write = await alice.request("tools/call", _call("fs.write"))

    assert "result" in write


@pytest.mark.parametrize(
    ("mode", "allowed"), [("closed", False), ("open", True)], ids=["closed", "open"]
)
async def test_an_unreachable_store_refuses_or_passes_as_the_failure_mode_says(
    mode: str, allowed: bool
) -> None:
    # A real connection attempt to a port nothing listens on: refused at once.
    store = f"redis://127.0.0.1:{free_port()}/0"
    config = _config({"id": "each", "rate": "1/hour"}, storage=store, failureMode=mode)
    fs = _fs()
    async with gateway({"fs": fs}, config) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        replies = [await alice.request("tools/call", _call("fs.read")) for _ in range(2)]
        metric = gw.dispatcher.telemetry.metrics.registry.get_sample_value(
            "micro_mcp_rate_limit_store_errors_total", {"failure_mode": mode}
        )

    outcomes = [e.outcome for e in gw.audit.of(event="reply", method="tools/call")]
    if allowed:  # uncounted: the second call is not refused either
        assert all("result" in reply for reply in replies)
        assert len(fs.of("tools/call")) == 2
        assert outcomes == ["ok", "ok"]
    else:
        assert all(r["error"]["code"] == codes.RATE_LIMIT_UNAVAILABLE for r in replies)
        assert fs.of("tools/call") == []
        assert outcomes == ["limited", "limited"]  # not the service's error
    assert metric == 2.0
