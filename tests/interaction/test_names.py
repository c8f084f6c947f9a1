"""Names that fit: a service's long tool and prompt names reach the client within the host's
limit and alphabet, and calls, prompts, audit records and policy still use the canonical name."""

from __future__ import annotations

import re
from typing import Any

import pytest
from mcp.server.mcpserver import MCPServer
from mcp_types import Completion

from micro_mcp import codes
from tests.interaction.harness import Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

LONG_TOOL = "reconcile_quarterly_revenue_across_all_regional_ledgers_in_eu"
"""61 characters: with `analytics-warehouse.` in front, 81."""
LONG_PROMPT = "summarize_the_reconciliation_report_for_the_finance_committee_now"
HOST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What Claude and OpenAI accept as a tool name."""
ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"


def _warehouse() -> Tap:
    server = MCPServer("warehouse")

    @server.tool(name=LONG_TOOL)
    def reconcile(region: str) -> str:
        return f"reconciled {region}"

    @server.tool(name=LONG_TOOL + "_dry")
    def reconcile_dry(region: str) -> str:
        return f"would reconcile {region}"

    @server.tool(name="count")
    def count() -> str:
        return "3"

    @server.prompt(name=LONG_PROMPT)
    def summary(quarter: str) -> str:
        return f"summarize {quarter}"

    @server.completion()
    async def complete(ref: object, argument: object, context: object) -> Completion:
        return Completion(values=["Q1", "Q2"])

    return Tap(sdk_service(server))


async def _names(client: Any, method: str, kind: str) -> list[str]:
    return [item["name"] for item in (await client.request(method))["result"][kind]]


async def test_long_names_reach_the_client_within_64_characters_and_call_the_right_tool() -> None:
    warehouse = _warehouse()
    async with gateway({"analytics-warehouse": warehouse}) as gw:
        client = gw.client()
        await client.initialize()
        tools = await _names(client, "tools/list", "tools")
        prompts = await _names(client, "prompts/list", "prompts")
        assert all(HOST_NAME.fullmatch(name) for name in tools + prompts)
        assert len(set(tools)) == 3
        assert "analytics-warehouse.count" in tools
        long_one, dry = (n for n in tools if n != "analytics-warehouse.count")
        assert len(long_one) == len(dry) == 64
        assert long_one.startswith("analytics-warehouse.reconcile_quarterly_revenue_across_")

        for exposed, expected in ((long_one, "reconciled"), (dry, "would reconcile")):
            reply = await client.request(
                "tools/call", {"name": exposed, "arguments": {"region": "north"}}
            )
            assert reply["result"]["content"][0]["text"] == f"{expected} north"
        upstream = [call["params"]["name"] for call in warehouse.of("tools/call")]
        assert upstream == [LONG_TOOL, LONG_TOOL + "_dry"]

        [prompt] = prompts
        reply = await client.request(
            "prompts/get", {"name": prompt, "arguments": {"quarter": "Q3"}}
        )
        assert reply["result"]["messages"][0]["content"]["text"] == "summarize Q3"
        assert warehouse.of("prompts/get")[0]["params"]["name"] == LONG_PROMPT
        completed = await client.request(
            "completion/complete",
            {
                "ref": {"type": "ref/prompt", "name": prompt},
                "argument": {"name": "quarter", "value": "Q"},
            },
        )
        assert completed["result"]["completion"]["values"] == ["Q1", "Q2"]
        assert warehouse.of("completion/complete")[0]["params"]["ref"]["name"] == LONG_PROMPT

        calls = gw.audit.of(event="call", service="analytics-warehouse")
        assert [c.name for c in calls] == [
            f"analytics-warehouse.{LONG_TOOL}",
            f"analytics-warehouse.{LONG_TOOL}_dry",
            f"analytics-warehouse.{LONG_PROMPT}",
            f"analytics-warehouse.{LONG_PROMPT}",
        ]


async def test_the_original_long_name_is_unknown_to_the_client() -> None:
    async with gateway({"analytics-warehouse": _warehouse()}) as gw:
        client = gw.client()
        await client.initialize()
        reply = await client.request(
            "tools/call", {"name": f"analytics-warehouse.{LONG_TOOL}", "arguments": {}}
        )
        assert reply["error"]["code"] == codes.INVALID_PARAMS


async def test_policy_globs_match_the_canonical_name_not_the_shortened_one() -> None:
    principals = {
        "alice": {
            "token": ALICE,
            "policy": {"deny": ["analytics-warehouse.*_dry", "analytics-warehouse.*-*"]},
        },
        "bob": {"token": BOB},
    }
    warehouse = _warehouse()
    async with gateway({"analytics-warehouse": warehouse}, {"principals": principals}) as gw:
        client = gw.client(ALICE)
        await client.initialize()
        tools = await _names(client, "tools/list", "tools")
        # `*_dry` matches the canonical name of the dry run, which its shortened name lacks; `*-*`
        # matches every shortened name (they end in `-hash`) but no canonical one.
        assert len(tools) == 2
        assert all(not name.endswith("_dry") for name in tools)
        anyone = gw.client(BOB)
        await anyone.initialize()
        everything = await _names(anyone, "tools/list", "tools")
        [dry] = set(everything) - set(tools)
        reply = await client.request("tools/call", {"name": dry, "arguments": {"region": "n"}})
        assert reply["error"]["code"] == codes.POLICY_DENIED
        assert warehouse.of("tools/call") == []
        call = await gw.audit.wait_for(event="call", decision="deny")
        assert call.name == f"analytics-warehouse.{LONG_TOOL}_dry"


async def test_a_host_without_dots_gets_names_of_its_alphabet_and_limit() -> None:
    config = {"separator": "_", "names": {"maxLength": 48, "alphabet": "A-Za-z0-9_-"}}
    warehouse = _warehouse()
    async with gateway({"analytics-warehouse": warehouse}, config) as gw:
        client = gw.client()
        await client.initialize()
        tools = await _names(client, "tools/list", "tools")
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,48}", name) for name in tools)
        assert "analytics-warehouse_count" in tools
        for name in tools:
            reply = await client.request("tools/call", {"name": name, "arguments": {"region": "s"}})
            assert "error" not in reply
        upstream = sorted(call["params"]["name"] for call in warehouse.of("tools/call"))
        assert upstream == sorted(["count", LONG_TOOL, LONG_TOOL + "_dry"])
