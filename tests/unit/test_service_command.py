"""`micro-mcp service NAME ARGS...`: the example services behind the image's one entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from micro_mcp.cli import service
from micro_mcp.cli.main import main
from micro_mcp.services.fs import __main__ as fs_main
from micro_mcp.services.vector import __main__ as vector_main


def test_each_name_runs_that_services_own_main() -> None:
    assert service.service_main("fs") is fs_main.main
    assert service.service_main("vector") is vector_main.main


def test_the_arguments_after_the_name_reach_the_service_unchanged(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir"

    with pytest.raises(SystemExit) as stopped:
        main(["service", "fs", "--root", str(missing), "--max-bytes", "100"])

    assert f"root directory '{missing}'" in str(stopped.value.code)


def test_an_unknown_service_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["service", "weather"])

    assert stopped.value.code == 2
    assert "invalid choice: 'weather'" in capsys.readouterr().err
