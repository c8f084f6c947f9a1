"""Rules end to end: a real gateway over the real fs service, driven by the SDK client. The path
rule holds on the tool, and the URI normal form holds on resources, whatever the spelling."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from micro_mcp import codes
from tests.e2e.conftest import gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

RULES: list[dict[str, Any]] = [
    {
        "id": "docs-only",
        "effect": "allow",
        "tools": ["fs.readFileText"],
        "when": 'under(args.path, "docs")',
    },
    {"id": "browse", "effect": "allow", "tools": ["fs.listDir"], "resources": ["fs.*"]},
    {
        "id": "no-private",
        "effect": "deny",
        "tools": ["fs.*"],
        "resources": ["fs.file:///private/*"],
        "when": 'uri != "" || (has(args.path) && under(args.path, "private"))',
    },
]


def _root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "private").mkdir()
    (root / "docs" / "guide.md").write_text("the guide")
    (root / "private" / "key.txt").write_text("hunter2")
    return root


async def test_path_rule_and_uri_normal_form_hold_against_the_real_fs_service(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    fs = {
        "command": sys.executable,
        "args": ["-m", "micro_mcp.services.fs", "--root", str(_root(tmp_path))],
    }
    config = {"rules": RULES, "audit": {"path": str(audit)}}
    async with Client(gateway_params(tmp_path, {"fs": fs}, config)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert tools == {"fs.readFileText", "fs.listDir"}

        guide = await client.call_tool("fs.readFileText", {"path": "docs/guide.md"})
        assert isinstance(guide.content[0], TextContent)
        assert "the guide" in guide.content[0].text
        for path in ("private/key.txt", "docs/../private/key.txt", "./private/key.txt", "x"):
            with pytest.raises(MCPError) as denied:
                await client.call_tool("fs.readFileText", {"path": path})
            assert denied.value.error.code == codes.POLICY_DENIED, path

        read = await client.read_resource("fs+file:///docs/./guide%2Emd")
        assert [c.uri for c in read.contents] == ["fs+file:///docs/guide.md"]
        for uri in (
            "fs+file:///private/key.txt",
            "fs+file:///./private/key.txt",
            "fs+file:///docs/../private/key.txt",
            "fs+file:///%70rivate/key.txt",
            "fs+file:////private//key.txt",
        ):
            with pytest.raises(MCPError) as denied:
                await client.read_resource(uri)
            assert denied.value.error.code == codes.POLICY_DENIED, uri
        with pytest.raises(MCPError) as escaped:
            await client.read_resource("fs+file:///docs%2F..%2Fprivate/key.txt")
        assert escaped.value.error.code == codes.INVALID_PARAMS

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = [r for r in records if r["event"] == "call" and "decision" in r]
    assert {r.get("rule") for r in calls if r["decision"] == "deny"} == {"no-private", None}
    assert any(r.get("rule") == "docs-only" and r["decision"] == "allow" for r in calls)
    assert not any("hunter2" in line for line in audit.read_text().splitlines())
