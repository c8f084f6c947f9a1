"""Names that fit, end to end: a real gateway process over a real service with long names,
driven by the SDK client over stdio."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import FIXTURES, gateway_params
from tests.fixtures.long_names_server import AZURE_DEVOPS_TOOLS, PROMPT, TOOLS

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

HOST_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""What Claude and OpenAI accept as a tool name."""
SERVICE = {"command": sys.executable, "args": [str(FIXTURES / "long_names_server.py")]}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_long_names_pass_a_64_character_host_and_reach_the_right_tool(
    tmp_path: Path, mode: str
) -> None:
    audit = tmp_path / "audit.jsonl"
    config = {
        "audit": {"path": str(audit)},
        "policy": {"deny": [f"analytics-warehouse.{TOOLS[2]}"]},
    }
    params = gateway_params(tmp_path, {"analytics-warehouse": SERVICE}, config)
    async with Client(params, mode=mode) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        prompts = [prompt.name for prompt in (await client.list_prompts()).prompts]
        answers = {
            name: (await client.call_tool(name, {"region": "eu"})).structured_content
            for name in tools
        }
        prompt = await client.get_prompt(prompts[0], {"quarter": "Q3"})
        with pytest.raises(MCPError) as unknown:
            await client.call_tool(f"analytics-warehouse.{TOOLS[0]}", {})
    assert all(HOST_NAME.fullmatch(name) for name in tools + prompts)
    assert len(tools) == len(set(tools)) == 3  # the denied one is hidden
    assert "analytics-warehouse.count" in tools
    assert sorted(answer["result"] for answer in answers.values() if answer) == sorted(
        f"{tool} eu" for tool in (TOOLS[0], TOOLS[1], TOOLS[3])
    )
    assert getattr(prompt.messages[0].content, "text", "") == "summarize Q3"
    assert unknown.value.error.code == codes.INVALID_PARAMS
    calls = [json.loads(line) for line in audit.read_text().splitlines()]
    named = [c["name"] for c in calls if c["event"] == "call" and c["method"] == "prompts/get"]
    assert named == [f"analytics-warehouse.{PROMPT}"]
    called = {c.get("name") for c in calls if c["event"] == "call" and c["method"] == "tools/call"}
    assert {f"analytics-warehouse.{tool}" for tool in (TOOLS[0], TOOLS[1], TOOLS[3])} <= called


async def test_real_long_names_behind_a_long_namespace_fit_and_stay_apart(tmp_path: Path) -> None:
    namespace = "azure-devops-contoso-production"
    assert len(namespace) == 31
    service = {**SERVICE, "args": [*SERVICE["args"], "--azure-devops"]}
    config = {"separator": "_", "names": {"alphabet": "A-Za-z0-9_-"}}
    async with Client(gateway_params(tmp_path, {namespace: service}, config)) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        answers = [(await client.call_tool(name, {})).structured_content for name in tools]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name) for name in tools)
    assert len(set(tools)) == 4
    assert f"{namespace}_repo_list_pull_request_threads" in tools  # 62 characters: kept
    cut = [name for name in tools if name.startswith(f"{namespace}_repo_list_pull_requests-")]
    assert len(cut) == 2  # the same 55 characters, told apart by the hash
    assert [answer and answer["result"] for answer in answers] == [
        f"{tool} all" for tool in AZURE_DEVOPS_TOOLS
    ]
