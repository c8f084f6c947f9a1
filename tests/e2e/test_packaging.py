"""The package as a user gets it: an sdist and a wheel built from the clone (the wheel from the
sdist, so the sdist is complete), the wheel alone installed into a clean environment with pipx
(the lean gateway), and `pipx install '.[examples]'` as the README shows it, serving the
quickstart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
SHIPPED = (
    "micro_mcp/defaults/discovery.default.json",
    "micro_mcp/gateway/operator/admin.html",
    "micro_mcp/schemas/manifest.schema.json",
    "micro_mcp/schemas/gateway.schema.json",
    "micro_mcp/templates/python/pyproject.toml",
    "micro_mcp/templates/python/src/tpl_service/server.py",
    "micro_mcp/templates/typescript/package.json",
)
"""Files the code reads from the installed package, besides its modules."""


async def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    with anyio.fail_after(600):
        done = await anyio.run_process(
            argv, cwd=cwd, env=env, check=False, stderr=subprocess.STDOUT
        )
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, f"{' '.join(argv)}:\n{output}"
    return output


def pipx_env(tmp_path: Path) -> dict[str, str]:
    """pipx confined to `tmp_path`: its venvs and its bin folder there, not the user's."""
    return {
        **os.environ,
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }


async def test_the_wheel_built_from_the_sdist_installs_alone_and_serves_the_quickstart(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    await run([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], tmp_path)
    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert set(SHIPPED) <= names
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    assert not [m for m in members if "/.import_linter_cache/" in m or "/.venv/" in m]

    # The wheel alone: the gateway without the example services' libraries or the tracing SDK.
    env = pipx_env(tmp_path)
    await run([sys.executable, "-m", "pipx", "install", str(wheel)], tmp_path, env)
    installed = await run(
        [sys.executable, "-m", "pipx", "runpip", "micro-mcp", "list"], tmp_path, env
    )
    present = {line.split()[0].lower() for line in installed.splitlines()[2:] if line.strip()}
    assert "mcp" in present
    assert not present & {"numpy", "beautifulsoup4", "markdownify", "opentelemetry-sdk"}
    command = tmp_path / "bin" / "micro-mcp"
    assert (await run([str(command), "--version"], tmp_path)).strip() == "micro-mcp 0.1.0"

    # It fronts a service that needs nothing more, from the manifest a user writes.
    fs = {"command": "python", "args": ["-m", "micro_mcp.services.fs", "--root", "."]}
    (tmp_path / "fs.json").write_text(json.dumps({"mcpServers": {"fs": fs}}))
    params = StdioServerParameters(
        command=str(command), args=["gateway", "--discovery", str(tmp_path / "fs.json")]
    )
    async with Client(params) as client:
        listing = await client.call_tool("fs.listDir", {"path": "."})
    assert "fs.json" in json.dumps(listing.structured_content)

    # The example services that need the extra say so instead of failing obscurely.
    with anyio.fail_after(120):
        checked = await anyio.run_process(
            [str(command), "check"], cwd=tmp_path, check=False, stderr=subprocess.STDOUT
        )
    report = checked.stdout.decode(errors="replace")
    assert checked.returncode == 1, report
    assert "the vector service needs numpy" in report
    assert "the http service needs beautifulsoup4 and markdownify" in report

    # Templates and schemas come from the installed package.
    await run([str(command), "new", "weather", "--lang", "typescript"], tmp_path)
    assert (tmp_path / "weather" / "src" / "server.ts").is_file()
    schema = await run([str(command), "config", "schema", "gateway"], tmp_path)
    assert '"maxMessageBytes"' in schema


async def test_pipx_install_from_the_clone_with_the_examples_serves_the_quickstart(
    tmp_path: Path,
) -> None:
    env = pipx_env(tmp_path)
    await run([sys.executable, "-m", "pipx", "install", ".[examples]"], REPO, env)
    command = tmp_path / "bin" / "micro-mcp"
    # The quickstart's start command, as an MCP client launches it.
    async with Client(StdioServerParameters(command=str(command), args=["gateway"])) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert {"fs.listDir", "http.fetchText", "vector.search"} <= tools
