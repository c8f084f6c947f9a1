"""Consent over Streamable HTTP with the official SDK client, in each protocol era: the human
approves a write (it happens) or declines one (the service never writes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitResult, TextContent

from micro_mcp import codes
from tests.e2e.conftest import FIXTURES, gateway_params, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "consent-test-token-0123456789"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", "2026-07-28")])
async def test_a_write_runs_only_with_the_humans_approval(
    tmp_path: Path, mode: str, version: str
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    fs = {
        "command": sys.executable,
        "args": ["-m", "micro_mcp.services.fs", "--root", str(docs), "--writable"],
    }
    config = {"token": TOKEN, "consent": {"tools": ["fs.writeFileText"], "rememberSeconds": 0}}
    answers = [
        ElicitResult(action="accept", content={"approve": True}),
        ElicitResult(action="decline"),
    ]
    asked: list[str] = []

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return answers.pop(0)

    async with http_gateway(tmp_path, {"fs": fs}, config) as url:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        transport = streamable_http_client(url, http_client=http)
        async with http, Client(transport, mode=mode, elicitation_callback=on_elicit) as client:
            assert client.protocol_version == version
            written = await client.call_tool(
                "fs.writeFileText", {"path": "yes.txt", "text": "approved"}
            )
            with pytest.raises(MCPError) as refused:
                await client.call_tool("fs.writeFileText", {"path": "no.txt", "text": "declined"})
            listed = await client.call_tool("fs.listDir", {"path": "."})  # not named: not asked
    assert not written.is_error
    assert (docs / "yes.txt").read_text() == "approved"
    assert refused.value.error.code == codes.CONSENT_REFUSED
    assert "declined" in refused.value.error.message
    assert not (docs / "no.txt").exists()
    assert not listed.is_error
    assert len(asked) == 2
    assert '"fs.writeFileText"' in asked[0]
    assert '"path": "yes.txt"' in asked[0]


async def test_the_quickstart_consent_example_works_as_written(tmp_path: Path) -> None:
    config = json.loads((REPO / "examples" / "consent.config.example.json").read_text())
    quickstart = (REPO / "docs" / "QUICKSTART.md").read_text()
    assert (REPO / "examples" / "consent.config.example.json").read_text() in quickstart
    docs = tmp_path / "docs"
    docs.mkdir()
    fs = {
        "command": "python",
        "args": ["-m", "micro_mcp.services.fs", "--root", str(docs), "--writable"],
    }
    asked: list[str] = []

    async def approve(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"approve": True})

    env = {"MICRO_MCP_TOKEN": config["token"]}
    params = gateway_params(tmp_path, {"fs": fs}, config, env=env)
    async with Client(params, mode="legacy", elicitation_callback=approve) as client:
        for name in ("a.txt", "b.txt"):  # the second is covered by the remembered approval
            written = await client.call_tool("fs.writeFileText", {"path": name, "text": name})
            assert not written.is_error
    assert sorted(p.name for p in docs.iterdir()) == ["a.txt", "b.txt"]
    assert len(asked) == 1


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_services_own_input_rounds_follow_one_approval(tmp_path: Path, mode: str) -> None:
    service = {
        "command": sys.executable,
        "args": [str(FIXTURES / "conformance_server.py")],
        "protocol": "modern",  # its questions come as input_required, its state sealed by the SDK
    }
    tool = "svc.test_input_required_result_multi_round"
    config = {"token": TOKEN, "consent": {"tools": [tool], "rememberSeconds": 0}}
    asked: list[str] = []

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        if "approve" in params.requested_schema["properties"]:
            return ElicitResult(action="accept", content={"approve": True})
        return ElicitResult(action="accept", content={"name": "Ada", "color": "teal"})

    async with http_gateway(tmp_path, {"svc": service}, config) as url:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
        transport = streamable_http_client(url, http_client=http)
        async with http, Client(transport, mode=mode, elicitation_callback=on_elicit) as client:
            result = await client.call_tool(tool, {})
    content = result.content[0]
    assert isinstance(content, TextContent)
    assert content.text == "Multi-round completed"
    assert len(asked) == 3
    assert f'"{tool}"' in asked[0]
    assert asked[1:] == ["Step 1: What is your name?", "Step 2: What is your favorite color?"]
