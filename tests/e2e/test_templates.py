"""The service templates as `micro-mcp new` renders them: their own tests and checks pass, and
the service answers through a real gateway, launched from the manifest entry `new` printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.e2e.conftest import gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
PEERS = Path(os.environ.get("MICRO_MCP_PEERS", REPO / ".cache" / "peers"))
TS_DEPS = PEERS / "ts-template" / "node_modules"
"""The TypeScript template's dependencies, installed once by scripts/test."""
ENTRY_MARKER = 'Add this entry under "mcpServers" in your manifest:'
TEXT = "one two\nthree four five\n"
COUNTS = {"words": 5, "lines": 2, "characters": 24}


async def run(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a command to its end; fail the test, with its output, if it fails."""
    with anyio.fail_after(300):
        done = await anyio.run_process(
            argv, cwd=cwd, env=env, check=False, stderr=subprocess.STDOUT
        )
    assert done.returncode == 0, f"{' '.join(argv)}:\n{done.stdout.decode(errors='replace')}"
    return done


async def new(
    tmp_path: Path, name: str, language: str, env: Mapping[str, str] | None = None
) -> tuple[Path, dict[str, Any]]:
    """`micro-mcp new`; returns the project and the manifest entry it printed."""
    project = tmp_path / name
    argv = [sys.executable, "-m", "micro_mcp", "new", name, "--lang", language]
    done = await run([*argv, "--dir", str(project)], tmp_path, env)
    entry: dict[str, Any] = json.loads(done.stdout.decode().split(ENTRY_MARKER, 1)[1])
    return project, entry


async def count_through_gateway(tmp_path: Path, name: str, entry: dict[str, Any]) -> Any:
    """Start a gateway over the printed entry; list, then call `NAME.countWords`."""
    async with Client(gateway_params(tmp_path, entry)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        result = await client.call_tool(f"{name}.countWords", {"text": TEXT})
    assert list(tools) == [f"{name}.countWords"]
    assert tools[f"{name}.countWords"].output_schema is not None
    assert not result.is_error
    return result.structured_content


async def test_python_template_passes_its_checks_and_serves_through_the_gateway(
    tmp_path: Path,
) -> None:
    project, entry = await new(tmp_path, "word-stats", "python")

    await run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    await run([sys.executable, "-m", "ruff", "check", "."], project)
    await run([sys.executable, "-m", "ruff", "format", "--check", "."], project)
    pyright = Path(sys.executable).with_name("pyright")
    await run([str(pyright), "--pythonpath", sys.executable], project)
    assert set(entry) == {"word-stats"}
    assert await count_through_gateway(tmp_path, "word-stats", entry) == COUNTS


async def test_typescript_template_builds_passes_its_tests_and_serves_through_the_gateway(
    tmp_path: Path,
) -> None:
    npm = shutil.which("npm")
    if npm is None or not TS_DEPS.is_dir():
        pytest.skip(f"npm, or the template's dependencies under {TS_DEPS}: run scripts/test")
    project, entry = await new(tmp_path, "word-stats", "typescript")
    (project / "node_modules").symlink_to(TS_DEPS, target_is_directory=True)

    await run([npm, "run", "build"], project)
    await run([npm, "test"], project)
    assert set(entry) == {"word-stats"}
    assert await count_through_gateway(tmp_path, "word-stats", entry) == COUNTS


async def test_new_works_from_the_built_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels)]
    await run([*pip_wheel, str(REPO)], tmp_path)
    site = tmp_path / "site"
    with zipfile.ZipFile(next(wheels.glob("micro_mcp-*.whl"))) as wheel:
        wheel.extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the editable install in the venv

    where = await run(
        [sys.executable, "-c", "import micro_mcp; print(micro_mcp.__file__)"], site, env
    )
    assert where.stdout.decode().strip() == str(site / "micro_mcp" / "__init__.py")
    for language in ("python", "typescript"):
        (tmp_path / language).mkdir()
        project, entry = await new(tmp_path / language, "stats", language, env)
        assert (project / "manifest.json").is_file()
        assert (project / "Dockerfile").is_file()
        assert set(entry) == {"stats"}
