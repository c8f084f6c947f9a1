"""Progressive discovery end to end: a real gateway over the real fs service and mcp-server-time
(from PyPI), driven by the SDK client over stdio. The host starts with three tools, finds the
one it needs, reads its schema and calls it; a tool the policy denies is neither found nor run.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from micro_mcp import codes
from tests.e2e.conftest import gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def _text(content: object) -> str:
    assert isinstance(content, TextContent)
    return content.text


async def test_a_host_finds_describes_and_calls_tools_through_the_meta_tools(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("remember the milk")
    time_server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert time_server is not None, "mcp-server-time is a test dependency: pip install -e '.[test]'"
    services = {
        "fs": {
            "command": sys.executable,
            "args": ["-m", "micro_mcp.services.fs", "--root", str(root)],
        },
        "time": {"command": time_server, "args": ["--local-timezone", "UTC"]},
    }
    config = {
        "discovery": {"enabled": True},
        "policy": {"allow": ["*"], "deny": ["time.convert_time"]},
    }
    async with Client(gateway_params(tmp_path, services, config)) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        assert listed == ["gateway.searchTools", "gateway.describeTool", "gateway.callTool"]

        found = await client.call_tool("gateway.searchTools", {"query": "read a text file"})
        names = [tool["name"] for tool in json.loads(_text(found.content[0]))["tools"]]
        assert names[0] == "fs.readFileText"

        clock = await client.call_tool("gateway.searchTools", {"query": "convert the time zone"})
        clock_names = [t["name"] for t in json.loads(_text(clock.content[0]))["tools"]]
        assert clock_names[0] == "time.get_current_time"
        assert "time.convert_time" not in clock_names  # denied: never found

        described = await client.call_tool("gateway.describeTool", {"name": "fs.readFileText"})
        tool = json.loads(_text(described.content[0]))["tool"]
        assert "path" in tool["inputSchema"]["properties"]

        read = await client.call_tool(
            "gateway.callTool", {"name": "fs.readFileText", "arguments": {"path": "notes.txt"}}
        )
        assert "remember the milk" in _text(read.content[0])

        now = await client.call_tool(
            "gateway.callTool",
            {"name": "time.get_current_time", "arguments": {"timezone": "UTC"}},
        )
        assert json.loads(_text(now.content[0]))["timezone"] == "UTC"

        with pytest.raises(MCPError) as denied:
            await client.call_tool(
                "gateway.callTool",
                {
                    "name": "time.convert_time",
                    "arguments": {
                        "source_timezone": "UTC",
                        "time": "12:00",
                        "target_timezone": "Europe/Paris",
                    },
                },
            )
        assert denied.value.error.code == codes.POLICY_DENIED
