"""The bubblewrap command line a sandboxed service runs under."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from micro_mcp.config.model import SandboxSpec, ServiceSpec
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.upstream import sandbox as sandbox_module
from micro_mcp.upstream.sandbox import sandbox_prefix


@pytest.fixture(autouse=True)
def bwrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: f"/usr/bin/{name}")


def binds(argv: list[str], kind: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == kind]


def test_nothing_but_the_system_the_program_and_what_is_declared(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "out").mkdir()
    spec = SandboxSpec(readOnly=("data",), readWrite=("out",))
    argv = sandbox_prefix(spec, "/usr/bin/env", tmp_path / "data", tmp_path, python=False)
    assert argv[0] == "/usr/bin/bwrap" and argv[-1] == "--"
    assert {"--unshare-all", "--die-with-parent"} <= set(argv)
    assert "--share-net" not in argv
    read_only = binds(argv, "--ro-bind")
    assert read_only == ["/usr/bin/env", str(tmp_path / "data"), str(tmp_path / "data")]
    assert binds(argv, "--bind") == [str(tmp_path / "out")]
    assert "/etc" not in binds(argv, "--ro-bind-try") and "/root" not in read_only
    assert argv[argv.index("--chdir") + 1] == str(tmp_path / "data")


def test_writable_binds_come_last_so_they_win(tmp_path: Path) -> None:
    (tmp_path / "both").mkdir()
    spec = SandboxSpec(readOnly=("both",), readWrite=("both",))
    argv = sandbox_prefix(spec, "/usr/bin/env", None, tmp_path, python=False)
    assert argv.index("--bind") > max(i for i, a in enumerate(argv) if a == "--ro-bind")


def test_network_only_when_allowed(tmp_path: Path) -> None:
    argv = sandbox_prefix(SandboxSpec(network=True), "/usr/bin/env", None, tmp_path, python=False)
    assert "--share-net" in argv


def test_a_python_service_gets_its_interpreter(tmp_path: Path) -> None:
    argv = sandbox_prefix(SandboxSpec(), "/usr/bin/python3", None, tmp_path, python=True)
    assert sys.base_prefix in binds(argv, "--ro-bind")


def test_a_missing_path_or_a_missing_bwrap_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UpstreamUnavailable, match="does not exist"):
        sandbox_prefix(SandboxSpec(readOnly=("nope",)), "/bin/x", None, tmp_path, python=False)
    monkeypatch.setattr(sandbox_module.shutil, "which", lambda name: None)
    with pytest.raises(UpstreamUnavailable, match="bubblewrap"):
        sandbox_prefix(SandboxSpec(), "/bin/x", None, tmp_path, python=False)


def test_sandbox_and_limits_belong_to_stdio_services() -> None:
    with pytest.raises(ValueError, match="stdio services"):
        ServiceSpec(url="http://127.0.0.1:1/mcp", sandbox=SandboxSpec())
