"""`micro-mcp audit verify`: exit 0 intact, 1 broken (with where), 2 unreadable."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from micro_mcp.audit.chain import RECORD_KEY_LABEL, derive
from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.jsonl import JsonlSink
from micro_mcp.cli import audit

KEY = "cli-test-audit-key-0123456789"


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    parser = argparse.ArgumentParser()
    audit.configure(parser)
    args = parser.parse_args(["verify", *argv])
    return audit.run(args, stdout=out, environ=environ or {}), out.getvalue()


def _trail(path: Path, count: int = 4) -> None:
    sink = JsonlSink(str(path), key=derive(KEY.encode(), RECORD_KEY_LABEL))
    for n in range(count):
        sink.emit(AuditEvent("call", 1.0, str(n), "alice", "tools/call"))
    sink.close()


def test_an_intact_trail_exits_0_and_checks_macs_with_the_key(tmp_path: Path) -> None:
    _trail(tmp_path / "a.jsonl")
    code, out = _run(str(tmp_path / "a.jsonl"), environ={"MICRO_MCP_AUDIT_KEY": KEY})
    assert code == 0 and out.startswith("OK: 4 records (seq 0..3) in 1 file(s); MACs checked")
    code, out = _run(str(tmp_path / "a.jsonl"))
    assert code == 0 and "MACs not checked (no key)" in out


def test_a_removed_line_exits_1_and_says_where(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    _trail(path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], *lines[2:]]))
    code, out = _run(str(path), "--key-env", "K", environ={"K": KEY})
    assert code == 1
    assert (
        out.splitlines()[0] == f"{path}:2: seq 2, expected 1: 1 record(s) removed before this line"
    )
    assert out.splitlines()[-1].startswith("BROKEN: 1 problem(s)")


@pytest.mark.parametrize("problem", ["missing file", "missing key file", "short key"])
def test_what_cannot_be_read_exits_2(tmp_path: Path, problem: str) -> None:
    path = tmp_path / "a.jsonl"
    _trail(path)
    if problem == "missing file":
        code, _ = _run(str(tmp_path / "nothing.jsonl"))
    elif problem == "missing key file":
        code, _ = _run("--key-file", str(tmp_path / "no.key"), str(path))
        assert not (tmp_path / "no.key").exists()  # verify never makes a key
    else:
        code, _ = _run(str(path), environ={"MICRO_MCP_AUDIT_KEY": "short"})
    assert code == 2
