"""The top-level command line: its version and its help."""

from __future__ import annotations

from importlib import metadata

import pytest

import micro_mcp
from micro_mcp.cli.main import main


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"micro-mcp {metadata.version('micro-mcp')}"
    assert metadata.version("micro-mcp") == micro_mcp.__version__


def test_help_describes_the_gateway_and_lists_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "One MCP endpoint over many small MCP servers" in text
    assert "hand over" not in text  # the module's docstring is for developers
    for command in ("gateway", "check", "new", "status", "tools", "call"):
        assert f"micro-mcp {command}" in text
