"""`micro-mcp check` as a real process over real services: it starts them, reports, stops them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

SERVICE = """\
import pathlib, sys
from mcp.server import MCPServer
server = MCPServer("probe")
@server.tool(name="readNote")
def read_note() -> str:
    '''Read the note.'''
    return "note"
@server.tool(name="writeNote")
def write_note(text: str) -> str:
    '''Write the note.'''
    return text
marker = pathlib.Path(sys.argv[1])
marker.write_text("running")
try:
    server.run()
finally:
    marker.write_text("stopped")
"""
BROKEN = "import sys; print('no settings in /etc/broken.toml', file=sys.stderr); sys.exit(3)"
CONFIG = {
    "token": "default-token-0123456789",
    "policy": {"allow": ["notes.*"]},
    "principals": {
        "reader": {"token": "reader-token-0123456789", "policy": {"allow": ["notes.read*"]}}
    },
}


def row(text: str, name: str) -> list[str]:
    """The cells of the table row that starts with `name`."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{text}")


async def check(tmp_path: Path, services: dict[str, Any], *extra: str) -> tuple[int, str]:
    """Run `micro-mcp check` over `services` with CONFIG; its exit code and output."""
    manifest = tmp_path / "discovery.json"
    manifest.write_text(json.dumps({"mcpServers": services}))
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps(CONFIG))
    argv = [sys.executable, "-m", "micro_mcp", "check", "--discovery", str(manifest)]
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [*argv, "--config", str(config), *extra], check=False, stderr=subprocess.STDOUT
        )
    return done.returncode, done.stdout.decode()


def notes(tmp_path: Path) -> dict[str, Any]:
    """The manifest entry of the probe service, which marks when it runs and when it stopped."""
    script = tmp_path / "probe.py"
    script.write_text(SERVICE)
    return {"command": "python", "args": [str(script), str(tmp_path / "marker")]}


async def test_check_reports_services_catalog_and_decisions_then_stops_the_services(
    tmp_path: Path,
) -> None:
    services = {"notes": notes(tmp_path), "broken": {"command": "python", "args": ["-c", BROKEN]}}

    code, out = await check(tmp_path, services)

    assert code == 1
    assert row(out, "notes")[2] == "ready"
    assert row(out, "broken")[2] == "failed"
    assert "broken did not start" in out
    assert "no settings in /etc/broken.toml" in out
    assert row(out, "notes.readNote")[1:] == ["notes", "Read the note.", "allow", "allow"]
    assert row(out, "notes.writeNote")[3:] == ["allow", "deny"]
    assert "did not start: broken" in out
    assert (tmp_path / "marker").read_text() == "stopped"


async def test_check_with_a_token_shows_that_principal_and_passes(tmp_path: Path) -> None:
    code, out = await check(
        tmp_path, {"notes": notes(tmp_path)}, "--token", "reader-token-0123456789"
    )

    assert code == 0, out
    assert row(out, "notes.writeNote")[3:] == ["deny"]
    assert "default" not in out
    assert "OK: 1 of 1 services started" in out


async def test_check_with_an_unknown_token_fails(tmp_path: Path) -> None:
    code, out = await check(
        tmp_path, {"notes": notes(tmp_path)}, "--token", "wrong-token-0123456789"
    )

    assert code == 1
    assert "the token matches no principal" in out


async def test_check_of_an_invalid_manifest_exits_two_naming_the_fault(tmp_path: Path) -> None:
    code, out = await check(tmp_path, {"Bad Name": {"command": "python"}})

    assert code == 2
    assert "discovery.json: mcpServers" in out
    assert "not a valid namespace" in out
