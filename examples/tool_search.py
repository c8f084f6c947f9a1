"""Progressive discovery from a host's side: three tools, then search, describe, call.

    .venv/bin/python examples/tool_search.py

Starts the gateway over the packaged example services with
`examples/tool-search.config.example.json` (discovery on, `vector.delete*` denied) through the
official SDK client over stdio.
"""

from __future__ import annotations

import anyio
from mcp import Client, StdioServerParameters
from mcp_types import TextContent


async def main() -> None:
    """Connect, list, search, describe and call."""
    gateway = StdioServerParameters(
        command=".venv/bin/micro-mcp",
        args=["gateway", "--config", "examples/tool-search.config.example.json"],
        env={"MICRO_MCP_TOKEN": "replace-me-with-a-long-random-token"},
    )
    async with Client(gateway) as client:
        print("listed:", [tool.name for tool in (await client.list_tools()).tools])
        found = await client.call_tool(
            "gateway.searchTools", {"query": "delete a document", "limit": 3}
        )
        print("found:", found.structured_content)
        described = await client.call_tool("gateway.describeTool", {"name": "fs.readFileText"})
        tool = (described.structured_content or {})["tool"]
        print("arguments of fs.readFileText:", list(tool["inputSchema"]["properties"]))
        read = await client.call_tool(
            "gateway.callTool", {"name": "fs.readFileText", "arguments": {"path": "LICENSE"}}
        )
        first = read.content[0]
        print("called:", first.text.splitlines()[0] if isinstance(first, TextContent) else first)


if __name__ == "__main__":
    anyio.run(main)
