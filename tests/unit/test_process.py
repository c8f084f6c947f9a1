"""The command line a stdio service is started with."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from micro_mcp.config.model import LimitsSpec, ServiceSpec
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
