"""What the operator's commands show of a manifest with credential references: the references,
never a value; a reference that does not resolve is named, with its service."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from micro_mcp.cli.check import run as check
from micro_mcp.cli.main import main

SECRET = "clear-text-secret-0123456789"


def _manifest(tmp_path: Path, **services: object) -> Path:
    (tmp_path / "token").write_text(SECRET, encoding="utf-8")
    path = tmp_path / "discovery.json"
    path.write_text(json.dumps({"mcpServers": services}), encoding="utf-8")
    return path


def test_config_check_counts_references_and_warns_about_a_missing_one_without_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REF_TEST_PRESENT", SECRET)
    path = _manifest(
        tmp_path,
        api={"url": "http://x/mcp", "headers": {"Authorization": "Bearer ${file:token}"}},
        tool={"command": "t", "env": {"A": "${env:REF_TEST_PRESENT}", "B": "${env:REF_ABSENT}"}},
    )
    assert main(["config", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "3 credential reference(s)" in out
    assert "service 'tool': env.B: ${env:REF_ABSENT}: the variable is unset" in err
    assert SECRET not in out + err


def test_check_reports_a_service_whose_reference_does_not_resolve_by_its_reference(
    tmp_path: Path,
) -> None:
    path = _manifest(
        tmp_path,
        api={"url": "http://127.0.0.1:9/mcp", "headers": {"X": "${file:absent}"}},
    )
    out = io.StringIO()
    args = argparse.Namespace(discovery=str(path), config=None, token=None)
    assert check(args, Console(file=out, width=200)) == 1
    text = out.getvalue()
    assert "api did not start" in text
    assert "headers.X: ${file:absent}: cannot read the file" in text
