"""The contract of tpl-service: its tool's schemas, results and errors, as an MCP client sees them.

Most tests connect in memory; two start the server as a process, over stdio (how a gateway runs
it) and over Streamable HTTP (how a container serves it).
"""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent

from tpl_service.server import MAX_TEXT_CHARS, build_server

pytestmark = pytest.mark.anyio

SRC = Path(__file__).resolve().parent.parent / "src"


def text_of(result: CallToolResult) -> str:
    """The text blocks of a tool result, joined."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful result."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def test_lists_count_words_with_input_and_output_schemas() -> None:
    async with Client(build_server()) as client:
        tools = (await client.list_tools()).tools

    assert [tool.name for tool in tools] == ["countWords"]
    tool = tools[0]
    assert tool.input_schema["required"] == ["text"]
    assert tool.input_schema["properties"]["text"]["type"] == "string"
    assert tool.output_schema is not None
    assert set(tool.output_schema["properties"]) == {"words", "lines", "characters"}
    assert tool.annotations is not None and tool.annotations.read_only_hint


async def test_count_words_counts_words_lines_and_characters() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("countWords", {"text": "one two\nthree  four\n"})

    assert structured(result) == {"words": 4, "lines": 2, "characters": 20}


async def test_empty_text_counts_nothing() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("countWords", {"text": ""})

    assert structured(result) == {"words": 0, "lines": 0, "characters": 0}


async def test_text_over_the_limit_is_a_tool_error_naming_the_limit() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("countWords", {"text": "x" * (MAX_TEXT_CHARS + 1)})

    assert result.is_error
    assert str(MAX_TEXT_CHARS) in text_of(result)


async def test_missing_argument_is_a_tool_error() -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("countWords", {})

    assert result.is_error


async def test_serves_over_stdio() -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "tpl_service"], env={"PYTHONPATH": str(SRC)}
    )
    async with Client(params) as client:
        result = await client.call_tool("countWords", {"text": "over stdio"})

    assert structured(result)["words"] == 2


@pytest.fixture
def http_url() -> Iterator[str]:
    """The server started with `--http` on a free port; its MCP endpoint."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = [sys.executable, "-m", "tpl_service", "--http", "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:  # another process: accepting a connection is the only sign it is up
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start listening") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_serves_streamable_http(http_url: str) -> None:
    async with Client(http_url) as client:
        result = await client.call_tool("countWords", {"text": "over HTTP"})

    assert structured(result)["words"] == 2
