"""`micro-mcp add`, as a user runs it: the real command on the registry's own server.json
examples, a registry lookup against a local server of the registry API's shape, and the entry it
writes served by a real gateway."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from micro_mcp.config.load import load_manifest
from tests.e2e.conftest import DEMO, FIXTURES, free_port, wait_listening

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

EXAMPLES = FIXTURES / "server_json"


def add(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "micro_mcp", "add", *args, "--no-input"]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@contextmanager
def registry(servers: dict[str, dict[str, Any]]) -> Iterator[str]:
    """A registry on 127.0.0.1 answering `GET /v0.1/servers/{name}/versions/latest`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = {
                f"/v0.1/servers/{n.replace('/', '%2F')}/versions/latest": s
                for n, s in servers.items()
            }
            body = found.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(
                json.dumps(
                    {"server": body, "_meta": {}} if body else {"title": "Not Found"}
                ).encode()
            )

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_add_a_file_writes_an_entry_the_gateway_loads_and_keeps_the_secret_private(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "discovery.json"
    manifest.write_text(json.dumps({"mcpServers": {"fs": {"command": "python", "args": ["-V"]}}}))
    done = add(
        str(EXAMPLES / "with-package.json"),
        "--set",
        "API_KEY=k-123",
        "--set",
        "config_path=/etc/weather.toml",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "added 'local-weather' to discovery.json" in done.stdout
    assert "env.API_KEY" in done.stderr and "clear text" in done.stderr
    loaded, _ = load_manifest(manifest)
    assert list(loaded.mcp_servers) == ["fs", "local-weather"]
    entry = loaded.mcp_servers["local-weather"]
    assert entry.command == "npx"
    assert entry.args[:2] == ("-y", "@modelcontextprotocol/server-weather@1.0.0")
    assert entry.env == {"API_KEY": "k-123"}
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600


def test_add_without_a_required_input_names_it_and_writes_nothing(tmp_path: Path) -> None:
    done = add(str(EXAMPLES / "with-package.json"), cwd=tmp_path)
    assert done.returncode == 2
    assert "--set API_KEY=" in done.stderr
    assert not (tmp_path / "discovery.json").exists()


def test_add_refuses_an_invalid_server_json_and_a_taken_namespace(tmp_path: Path) -> None:
    invalid = add(str(EXAMPLES / "package-version-latest.json"), cwd=tmp_path)
    assert invalid.returncode == 2
    assert "packages[0].version" in invalid.stderr
    first = add(str(EXAMPLES / "weather-pypi.json"), "--set", "WEATHER_API_KEY=w", cwd=tmp_path)
    again = add(str(EXAMPLES / "weather-pypi.json"), "--set", "WEATHER_API_KEY=w", cwd=tmp_path)
    assert (first.returncode, again.returncode) == (0, 2)
    assert "'weather-mcp' is taken" in again.stderr


def test_add_a_yaml_manifest_keeps_yaml(tmp_path: Path) -> None:
    manifest = tmp_path / "services.yaml"
    manifest.write_text("mcpServers:\n  fs:\n    command: python\n")
    done = add(
        str(EXAMPLES / "hybrid.json"),
        "--remote",
        "1",
        "--namespace",
        "hybrid",
        "--discovery",
        str(manifest),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    loaded, _ = load_manifest(manifest)
    assert loaded.mcp_servers["hybrid"].url == "https://mcp.anonymous.modelcontextprotocol.io/sse"
    assert loaded.mcp_servers["hybrid"].type == "sse"
    assert stat.S_IMODE(manifest.stat().st_mode) != 0o600  # nothing secret in it


def test_add_by_name_looks_the_server_up_and_an_unknown_name_is_an_error(tmp_path: Path) -> None:
    weather = json.loads((EXAMPLES / "weather-pypi.json").read_text())
    with registry({weather["name"]: weather}) as url:
        found = add(weather["name"], "--registry", url, "--set", "WEATHER_API_KEY=w", cwd=tmp_path)
        missing = add("io.github.nobody/nothing", "--registry", url, cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    loaded, _ = load_manifest(tmp_path / "discovery.json")
    assert loaded.mcp_servers["weather-mcp"].args == ("weather-mcp-server==0.5.0",)
    assert missing.returncode == 2
    assert "not in the registry" in missing.stderr


async def test_a_remote_added_by_name_is_served_by_the_gateway_with_its_header(
    tmp_path: Path,
) -> None:
    # The registry's with-remote.json example, at `http://` so it can reach a local service.
    remote = json.loads((EXAMPLES / "with-remote.json").read_text())
    remote["remotes"][0]["url"] = "http://{host}/mcp"
    port = free_port()
    argv = [sys.executable, DEMO, "--http", str(port)]
    async with await anyio.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as service:
        try:
            await wait_listening(port)
            with registry({remote["name"]: remote}) as url:
                done = await anyio.to_thread.run_sync(
                    lambda: add(
                        remote["name"],
                        "--registry",
                        url,
                        "--set",
                        f"host=127.0.0.1:{port}",
                        "--set",
                        "Authorization=Bearer t0k3n",
                        cwd=tmp_path,
                    )
                )
            assert done.returncode == 0, done.stderr
            discovery = str(tmp_path / "discovery.json")
            params = StdioServerParameters(
                command=sys.executable,
                args=["-m", "micro_mcp", "gateway", "--discovery", discovery],
            )
            async with Client(params) as client:
                seen = await client.call_tool("remote-weather.headers", {})
        finally:
            service.terminate()
    assert seen.structured_content == {"authorization": "Bearer t0k3n"}


def test_the_quickstart_example_works_as_written(tmp_path: Path) -> None:
    quickstart = (Path(__file__).resolve().parents[2] / "docs" / "QUICKSTART.md").read_text()
    section = quickstart.split("## 10. Add a server from the MCP Registry", 1)[1]
    command = section.split("```bash\n", 1)[1].split("\n```", 1)[0]
    printed = section.split("prints\n\n```\n", 1)[1].split("\n```", 1)[0]
    (tmp_path / ".venv").symlink_to(sys.prefix)  # the venv these tests run in
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == printed.strip()
    loaded, _ = load_manifest(tmp_path / "my-services.json")
    entry = loaded.mcp_servers["remote-weather"]
    assert (entry.type, entry.url) == ("streamable-http", "https://api.example.com/mcp")
    assert entry.headers == {"Authorization": "Bearer my-weather-token"}
