"""The fs contract over real processes: `python -m micro_mcp.services.fs` on stdio and `--http`,
directly and through a real gateway (which names the tools `fs.listDir` and so on), with the
SDK's `mcp.Client`. The escape corpus is replayed through the gateway too."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import CallToolResult, TextContent, TextResourceContents

from tests.e2e.conftest import free_port, gateway_params, reap, wait_listening
from tests.services.test_fs_escapes import CORPUS, attempt_on, build_world, check_reply

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

READ_TOOLS = {"listDir", "readFileText", "stat", "glob"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fs_args(root: Path, *extra: str) -> list[str]:
    return ["-m", "micro_mcp.services.fs", "--root", str(root), *extra]


@asynccontextmanager
async def connect(
    how: str, tmp_path: Path, root: Path, *extra: str
) -> AsyncGenerator[Client, None]:
    """A client of the fs service: `direct` on stdio, or through a `gateway` on stdio."""
    if how == "direct":
        params = StdioServerParameters(command=sys.executable, args=fs_args(root, *extra))
    else:
        services = {"fs": {"command": "python", "args": fs_args(root, *extra)}}
        params = gateway_params(tmp_path, services)
    async with Client(params) as client:
        yield client


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("# Guide\n", encoding="utf-8")
    (root / "blob.bin").write_bytes(b"\x00\x01\x02")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    return root


async def test_the_gateway_passes_every_schema_through_unchanged(
    tmp_path: Path, root: Path
) -> None:
    async with connect("direct", tmp_path, root, "--writable") as client:
        direct = {tool.name: tool for tool in (await client.list_tools()).tools}
    async with connect("gateway", tmp_path, root, "--writable") as client:
        through = {tool.name: tool for tool in (await client.list_tools()).tools}
    async with connect("gateway", tmp_path, root) as client:
        read_only = {tool.name for tool in (await client.list_tools()).tools}

    assert set(direct) == READ_TOOLS | {"writeFileText"}
    assert set(through) == {f"fs.{name}" for name in direct}
    assert read_only == {f"fs.{name}" for name in READ_TOOLS}
    for name, tool in direct.items():
        routed = through[f"fs.{name}"]
        assert routed.input_schema == tool.input_schema, name
        assert routed.output_schema == tool.output_schema, name
        assert routed.annotations == tool.annotations, name


@pytest.mark.parametrize("how", ["direct", "gateway"])
async def test_every_tool_answers_and_fails_cleanly_over_a_real_process(
    tmp_path: Path, root: Path, how: str
) -> None:
    prefix = "fs." if how == "gateway" else ""
    uri = "fs+file:///docs/guide.md" if how == "gateway" else "file:///docs/guide.md"

    async def call(tool: str, **args: Any) -> CallToolResult:
        return await client.call_tool(prefix + tool, args)

    async with connect(how, tmp_path, root, "--writable") as client:
        listed = await call("listDir", path="docs")
        read = await call("readFileText", path="docs/guide.md")
        status = await call("stat", path="docs/guide.md")
        found = await call("glob", pattern="**/*.md")
        written = await call("writeFileText", path="docs/new.md", text="new\n")
        resource = await client.read_resource(uri)
        failures = {
            "listDir": await call("listDir", path="docs/guide.md"),
            "readFileText": await call("readFileText", path="blob.bin"),
            "stat": await call("stat", path="../secret.txt"),
            "glob": await call("glob", pattern="../*"),
            "writeFileText": await call("writeFileText", path="docs", text="x"),
            "schema": await call("readFileText", path="docs/guide.md", maxBytes=0),
        }
        with pytest.raises(MCPError) as missing:
            await client.read_resource(uri.replace("guide.md", "nope.md"))

    assert listed.structured_content == {
        "path": "docs",
        "entries": [{"name": "guide.md", "type": "file", "size": 8}],
        "truncated": False,
    }
    assert read.structured_content == {"path": "docs/guide.md", "text": "# Guide\n", "size": 8}
    assert text_of(read) == "# Guide\n"
    assert status.structured_content is not None and status.structured_content["size"] == 8
    assert found.structured_content is not None
    assert [m["path"] for m in found.structured_content["matches"]] == ["docs/guide.md"]
    assert written.structured_content == {"path": "docs/new.md", "size": 4, "created": True}
    assert (root / "docs" / "new.md").read_text(encoding="utf-8") == "new\n"
    [contents] = resource.contents
    assert isinstance(contents, TextResourceContents) and contents.text == "# Guide\n"
    expected = {
        "listDir": "'docs/guide.md' is not a directory",
        "readFileText": "'blob.bin' is not UTF-8 text",
        "stat": "'../secret.txt' leads outside the root",
        "glob": "'..' in pattern '../*' refused",
        "writeFileText": "'docs' is a directory",
        "schema": "maxBytes",
    }
    for name, result in failures.items():
        assert result.is_error, name
        assert expected[name] in text_of(result), (name, text_of(result))
    assert "no such file or directory: 'docs/nope.md'" in missing.value.error.message


def sendable(args: dict[str, Any]) -> bool:
    """Whether the SDK client can put `args` on the wire: it refuses lone surrogates."""
    try:
        json.dumps(args, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def test_all_but_the_surrogate_attempts_can_go_through_a_real_wire() -> None:
    unsendable = [a.id for a in CORPUS if not sendable(a.args)]

    assert unsendable == ["overlong-utf8-surrogates"]


async def test_the_escape_corpus_gets_nothing_through_the_gateway(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    before = world.outside()
    services = {"fs": {"command": "python", "args": fs_args(world.root, "--writable")}}

    async with Client(gateway_params(tmp_path, services)) as client:
        for attempt in CORPUS:
            args = attempt.bind(world)
            if not sendable(args):
                continue
            reply = await attempt_on(client, attempt.tool, args, prefix="fs.")
            try:
                check_reply(world, attempt, args, reply)
            except AssertionError as exc:
                raise AssertionError(f"{attempt.id}: {exc}") from exc

    assert world.outside() == before


async def test_http_mode_serves_the_same_tools(root: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "fs-http.log"
    argv = [sys.executable, *fs_args(root), "--http", "--port", str(port)]
    with log.open("wb") as errors:
        process = await anyio.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
    try:
        await wait_listening(port)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            read = await client.call_tool("readFileText", {"path": "docs/guide.md"})
            refused = await client.call_tool("readFileText", {"path": "../secret.txt"})
    finally:
        process.terminate()
        await reap(process)

    assert tools == READ_TOOLS
    assert text_of(read) == "# Guide\n"
    assert refused.is_error
    assert "leads outside the root" in text_of(refused)


async def test_a_missing_root_stops_the_service_with_a_clear_message(tmp_path: Path) -> None:
    done = await anyio.run_process(
        [sys.executable, *fs_args(tmp_path / "absent")], check=False, stdin=subprocess.DEVNULL
    )

    assert done.returncode == 1
    assert b"fs: root directory" in done.stderr
    assert b"is not accessible" in done.stderr
