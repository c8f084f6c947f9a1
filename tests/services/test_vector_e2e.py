"""The vector service as a real process: over stdio, through the gateway, and over HTTP.

The contract script of `test_vector.py` runs unchanged against `python -m
micro_mcp.services.vector` driven by the SDK client, and through a real gateway, where the
tools are `vector.addDocument` and so on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from tests.e2e.conftest import free_port, gateway_params, wait_listening
from tests.services.test_vector import TOOLS, ok, run_contract

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODULE = ["-m", "micro_mcp.services.vector"]


def service(*args: str) -> StdioServerParameters:
    """Launch parameters for the vector service with `args`."""
    return StdioServerParameters(command=sys.executable, args=[*MODULE, *args])


async def test_contract_over_stdio_and_documents_survive_a_restart(tmp_path: Path) -> None:
    db = str(tmp_path / "vectors.db")
    async with Client(service("--db", db)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        await run_contract(client.call_tool, tools)

    async with Client(service("--db", db)) as client:
        found = await client.call_tool("search", {"query": "furry cats"})
        listed = await client.call_tool("listCollections", {})

    assert set(tools) == TOOLS
    assert [hit["id"] for hit in ok(found, tools["search"])["hits"]] == ["cats"]
    assert ok(listed, tools["listCollections"]) == {
        "collections": [{"name": "default", "count": 1}]
    }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_contract_through_the_gateway(tmp_path: Path, mode: str) -> None:
    db = str(tmp_path / "vectors.db")
    services = {"vector": {"command": "python", "args": [*MODULE, "--db", db]}}
    async with Client(gateway_params(tmp_path, services), mode=mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        await run_contract(client.call_tool, tools, prefix="vector.")

    assert set(tools) == {f"vector.{name}" for name in TOOLS}


async def test_streamable_http_mode(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, *MODULE, "--http", "--port", str(port)]
    async with await anyio.open_process(argv, stderr=subprocess.DEVNULL) as process:
        try:
            await wait_listening(port)
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                tools = {tool.name: tool for tool in (await client.list_tools()).tools}
                await client.call_tool("addDocument", {"id": "h", "text": "served over http"})
                found = await client.call_tool("search", {"query": "http"})
        finally:
            process.terminate()
            await process.wait()

    assert [hit["id"] for hit in ok(found, tools["search"])["hits"]] == ["h"]


async def test_a_second_server_on_the_same_file_is_refused_at_start(tmp_path: Path) -> None:
    db = str(tmp_path / "vectors.db")
    async with Client(service("--db", db)) as client:
        await client.call_tool("addDocument", {"text": "held by the first server"})
        second = await anyio.run_process(
            [sys.executable, *MODULE, "--db", db], stdin=subprocess.DEVNULL, check=False
        )

    assert second.returncode != 0
    assert b"is in use by another process" in second.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "/nonexistent/dir/v.db"], b"vector: database error while opening"),
        (["--model", "/nonexistent/model"], b"vector: "),
        (["--max-documents", "0"], b"must be at least 1"),
    ],
)
async def test_bad_start_options_exit_with_a_message(args: list[str], message: bytes) -> None:
    done = await anyio.run_process(
        [sys.executable, *MODULE, *args], stdin=subprocess.DEVNULL, check=False
    )

    assert done.returncode != 0
    assert message in done.stderr
