"""End-to-end smoke tests: each service as a real `python -m` subprocess over stdio."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

import micro_mcp.services

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SRC = Path(micro_mcp.services.__file__).resolve().parents[2]
"""The directory holding the `micro_mcp` package, put on the child's PYTHONPATH."""


def service(name: str, *args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """Launch parameters for `python -m micro_mcp.services.NAME ARGS`."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", f"micro_mcp.services.{name}", *args],
        env={"PYTHONPATH": str(SRC), **(env or {})},
    )


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body><h1>Hi</h1><p>from the test server</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def base_url() -> Iterator[str]:
    """URL of a local HTTP server answering every GET with a small HTML page."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    # A short poll interval only makes shutdown() return sooner; nothing waits on it.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_fs_service_over_stdio(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text("over stdio\n", encoding="utf-8")

    async with Client(service("fs", env={"FS_ROOT": str(tmp_path)})) as client:
        tools = await client.list_tools()
        result = await client.call_tool("readFileText", {"path": "note.txt"})

    assert {tool.name for tool in tools.tools} == {"listDir", "readFileText", "stat", "glob"}
    assert text_of(result) == "over stdio\n"


async def test_http_service_over_stdio(base_url: str) -> None:
    params = service("http", "--allow", "127.0.0.1", env={"ALLOWLIST": "*.example.org"})
    async with Client(params) as client:
        tools = await client.list_tools()
        result = await client.call_tool("fetchText", {"url": f"{base_url}/"})

    assert [tool.name for tool in tools.tools] == ["fetchText"]
    assert text_of(result) == "# Hi\n\nfrom the test server"


async def test_vector_service_over_stdio() -> None:
    async with Client(service("vector")) as client:
        tools = await client.list_tools()
        await client.call_tool("addDocument", {"id": "doc", "text": "stdio smoke test"})
        result = await client.call_tool("search", {"query": "smoke"})

    assert {"addDocument", "search", "deleteDocument"} <= {tool.name for tool in tools.tools}
    assert result.structured_content is not None
    assert [hit["id"] for hit in result.structured_content["hits"]] == ["doc"]
