"""The command line a stdio service is started with."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

import pytest

from micro_mcp.config.model import LimitsSpec, SandboxSpec, ServiceSpec
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.upstream import process


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv is not installed")
def test_a_service_starts_behind_setpriv_so_the_kernel_kills_it_with_the_gateway(
    tmp_path: Path,
) -> None:
    spec = ServiceSpec(command="python", args=("server.py",), limits=LimitsSpec(openFiles=100))
    argv = process.service_argv(spec, {"PATH": os.environ["PATH"]}, None, tmp_path)
    setpriv, prlimit = shutil.which("setpriv"), shutil.which("prlimit")
    assert argv == [
        setpriv,
        "--pdeathsig",
        "KILL",
        "--",
        prlimit,
        "--nofile=100",
        "--",
        sys.executable,
        "server.py",
    ]


def test_the_gateways_own_commands_come_first_on_a_services_path() -> None:
    scripts = sysconfig.get_path("scripts")
    env = process.service_env({}, {"PATH": "/usr/bin:/bin"})
    assert env["PATH"] == os.pathsep.join([scripts, "/usr/bin", "/bin"])
    already = process.service_env({}, {"PATH": f"/bin:{scripts}"})
    assert already["PATH"] == f"/bin:{scripts}"
    own = process.service_env({"PATH": "/opt/bin"}, {})
    assert own["PATH"] == "/opt/bin"  # the entry's own PATH is taken as written


def test_a_service_starts_in_the_manifests_folder_unless_cwd_or_a_sandbox_says_otherwise(
    tmp_path: Path,
) -> None:
    (tmp_path / "tools").mkdir()
    assert process.service_cwd(ServiceSpec(command="x"), tmp_path) == tmp_path.resolve()
    tools = ServiceSpec(command="x", cwd="tools")
    assert process.service_cwd(tools, tmp_path) == (tmp_path / "tools").resolve()
    sandboxed = ServiceSpec(command="x", sandbox=SandboxSpec())
    assert process.service_cwd(sandboxed, tmp_path) is None


def test_a_relative_command_path_is_found_from_the_services_folder(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    script = tmp_path / "tools" / "server"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    spec = ServiceSpec(command="./server", args=("data",), cwd="tools")
    cwd = process.service_cwd(spec, tmp_path)
    argv = process.service_argv(spec, {"PATH": "/usr/bin"}, cwd, tmp_path)
    assert argv[-2:] == [str(tmp_path.resolve() / "tools" / "server"), "data"]
    with pytest.raises(UpstreamUnavailable):
        process.service_argv(ServiceSpec(command="./server"), {}, tmp_path, tmp_path)
