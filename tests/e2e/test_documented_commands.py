"""The commands README and QUICKSTART show, run word for word as a new user would run them from
a clone: in a fresh folder that holds the clone's `.venv` and `examples`, with a PATH that does
not include the venv (the user has not activated it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
QUICKSTART = REPO / "docs" / "QUICKSTART.md"
SCRIPTS = Path(sysconfig.get_path("scripts"))
"""The venv the tests run in: the clone's `.venv`, as the docs' commands name it."""
PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"
"""A user's PATH without the venv: commands found there are found because the docs say so."""


def block(doc: Path, heading: str, language: str = "bash", nth: int = 0) -> str:
    """The `nth` fenced block in `language` under the section that starts with `heading`."""
    text = doc.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    section = section[: section.find("\n## ", 1)] if "\n## " in section[1:] else section
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)[nth]


def clone_like(tmp_path: Path) -> Path:
    """A folder shaped like the clone's root for the docs' relative paths."""
    root = tmp_path / "clone"
    root.mkdir()
    (root / ".venv").symlink_to(SCRIPTS.parent)
    (root / "examples").symlink_to(REPO / "examples")
    return root


def user_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = os.pathsep.join(
        [p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != SCRIPTS] or [PLAIN_PATH]
    )
    return env


async def bash(script: str, cwd: Path) -> str:
    """Run a documented block with bash, stopping at the first failing command."""
    with anyio.fail_after(600):
        done = await anyio.run_process(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=user_env(),
            check=False,
            stderr=subprocess.STDOUT,
        )
    output = done.stdout.decode(errors="replace")
    assert done.returncode == 0, f"{script}\n---\n{output}"
    return output


@pytest.mark.skipif(shutil.which("npx") is None, reason="the manifest starts a server with npx")
async def test_the_quickstart_manifest_starts_every_enabled_service_as_written(
    tmp_path: Path,
) -> None:
    root = clone_like(tmp_path)
    (root / "my-services.json").write_text(block(QUICKSTART, "## 3. Your own manifest", "json"))
    output = await bash(block(QUICKSTART, "## 3. Your own manifest", nth=0), root)
    assert "OK: 3 of 3 services started" in output
    config_steps = block(QUICKSTART, "## 4. Tokens, policy, audit")
    output = await bash(config_steps, root)
    assert "OK: 3 of 3 services started" in output and "reader" in output


async def test_relative_paths_in_a_manifest_mean_its_folder_wherever_the_gateway_starts(
    tmp_path: Path,
) -> None:
    services = tmp_path / "services"
    (services / "data").mkdir(parents=True)
    (services / "data" / "marker.txt").write_text("here")
    manifest = {
        "mcpServers": {
            "fs": {"command": "python", "args": ["-m", "micro_mcp.services.fs", "--root", "data"]},
            # installed in the gateway's venv, which is not on the PATH the gateway was given
            "time": {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"]},
        }
    }
    (services / "manifest.json").write_text(json.dumps(manifest))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    params = StdioServerParameters(
        command=str(SCRIPTS / "micro-mcp"),
        args=["gateway", "--discovery", "../services/manifest.json"],
        cwd=elsewhere,
        env=user_env(),
    )
    async with Client(params) as client:
        listing = await client.call_tool("fs.listDir", {"path": "."})
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "marker.txt" in json.dumps(listing.structured_content)
    assert "time.get_current_time" in tools


async def test_a_new_python_service_passes_the_commands_new_and_the_quickstart_print(
    tmp_path: Path,
) -> None:
    root = clone_like(tmp_path)
    steps = block(QUICKSTART, "## 9. Add a service of your own")
    output = await bash(steps, root)
    printed = next(line for line in output.splitlines() if line.startswith("Test it:"))
    test_command = printed.removeprefix("Test it:").strip().removeprefix("cd weather && ")
    assert test_command in steps  # the doc shows what `new` prints
    assert re.search(r"\d+ passed", output)
    assert "OK: 1 of 1 services started" in output


async def test_the_readmes_writing_a_service_commands_work_as_written(tmp_path: Path) -> None:
    root = clone_like(tmp_path)
    output = await bash(block(README, "## Writing a service"), root)
    assert output.count("OK: 1 of 1 services started") == 2


async def test_the_readmes_command_line_client_commands_work_as_written(tmp_path: Path) -> None:
    root = clone_like(tmp_path)
    output = await bash(block(README, "## From the command line"), root)
    assert "fs.listDir" in output and "vector.addDocument" in output  # the tools table
    assert '"mcpServers"' in output  # the manifest, read through fs
    assert output.rstrip().endswith("[]")  # the example services have no prompts


async def test_the_quickstart_profile_and_override_commands_work_as_written(
    tmp_path: Path,
) -> None:
    root = clone_like(tmp_path)
    heading = "## 10. Profiles, overrides and the cache of reads"
    output = await bash(block(QUICKSTART, heading), root)
    listed, _, whole = output.partition("buy milk")
    assert "3 tools" in listed and "notes.readNote" in listed and "http." not in listed
    assert "notes.glob" not in output and "maxBytes" not in listed
    assert "4 tools" in whole and "http.fetchText" in whole
    setup = 'gateway="--discovery profiles.discovery.json --config profiles.config.json"\n'
    for command, says in zip(
        block(QUICKSTART, heading, nth=1).strip().splitlines(),
        ["Unknown tool: http.fetchText", "argument 'maxBytes' is set by the gateway"],
        strict=True,
    ):
        done = await anyio.run_process(
            ["bash", "-c", setup + command], cwd=root, env=user_env(), check=False
        )
        assert done.returncode == 1
        assert says in done.stderr.decode()
