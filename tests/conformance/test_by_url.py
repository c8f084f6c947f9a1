"""The official conformance suite against servers written by others, reached by URL.

Each third-party conformance server runs as a subprocess on a free port, over Streamable HTTP:
python-sdk's `examples/servers/everything-server` and fastmcp's `tests/conformance/server.py`,
both taken from their PyPI source distributions by scripts/test. Every suite run (handshake era:
0.1.16 `--suite all`; 0.2.0-alpha.12 `--requirements 2025-11-25` and `--requirements 2026-07-28`,
which also runs the unscored tasks-* and pending scenarios) goes once straight to the server and
once through a gateway subprocess (`--transport http`) whose manifest names the server by `url`.

The gateway must score at least what the server scores alone: every scenario that passes
directly passes through it (no check fails or warns there), and every check that succeeds
directly succeeds through it (as many times: a scenario may report one check id more than
once). What falls short is listed with its reason in `by-url-gaps.yml`; an entry that no longer
shows fails the test, so fixing a gap flips it and the entry must go.

The manifest entry is the default one but for `"prefix": false`: the suite calls fixed names
(`test_simple_text`, `test://static-text`) and has no option to prefix them, and `prefix: false`
is how a gateway fronts one server (a manifest allows it for one service only).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.conformance.harness import (
    FAILING,
    PEERS,
    RUNS,
    Results,
    require,
    run_suite,
    serving,
    suite,
)
from tests.e2e.conftest import free_port, gateway_argv

pytestmark = [pytest.mark.conformance, pytest.mark.e2e]

GAPS_FILE: Final = Path(__file__).resolve().parent / "by-url-gaps.yml"
BASELINE_WORKERS: Final = 3
"""Direct baseline runs at once: each is a server and a Node process, on a 2-core machine."""


@dataclass(frozen=True, slots=True)
class Server:
    """A conformance server written by others, as scripts/test installs it."""

    home: Path
    """Its folder: the working directory it runs in."""
    argv: Callable[[int], list[str]]
    """Its command line, serving Streamable HTTP at http://127.0.0.1:PORT/mcp."""

    @contextmanager
    def serving(self, log: Path) -> Generator[str]:
        """Run it on a free port; yield its URL."""
        port = free_port()
        with serving(self.argv(port), log, port, cwd=require(self.home)) as url:
            yield url


FASTMCP = PEERS / "fastmcp-4.1.4"
SERVERS: Final = {
    "python-sdk": Server(
        PEERS / "mcp-everything-2.3.0",
        lambda port: [sys.executable, "-m", "mcp_everything_server", "--port", str(port)],
    ),
    "fastmcp": Server(
        FASTMCP / "conformance",
        lambda port: [str(FASTMCP / "venv" / "bin" / "python"), "server.py", str(port)],
    ),
}
CASES: Final = [(server, run) for server in SERVERS for run in RUNS]


def load_gaps(text: str) -> dict[tuple[str, str], dict[str, str]]:
    """(server, run) -> listed gap -> its reason, from the YAML of `by-url-gaps.yml`."""
    gaps: dict[tuple[str, str], dict[str, str]] = {}
    for entry in yaml.safe_load(text)["gaps"]:
        for server in entry["servers"]:
            for run in entry["runs"]:
                assert (server, run) in CASES, f"by-url-gaps.yml: unknown {server} / {run}"
                for gap in entry["gaps"]:
                    gaps.setdefault((server, run), {})[gap] = entry["why"]
    return gaps


def passed(checks: list[Any]) -> bool:
    """A scenario passes when it ran and none of its checks failed or warned."""
    return bool(checks) and not any(c.status in FAILING for c in checks)


def shortfalls(direct: Results, through: Results) -> dict[str, str]:
    """What passes directly but not through the gateway, as `scenario:check` -> how it went.

    A check falls short when it succeeds directly more often than through the gateway, or when
    its scenario passes directly and the check fails or warns through the gateway (a check the
    server alone skips, say). A scenario that does not run through the gateway is `scenario`.
    """
    found: dict[str, str] = {}
    for scenario, checks in direct.items():
        gateway = through.get(scenario, [])
        if not gateway:
            found[scenario] = "not run through the gateway"
            continue
        if passed(checks):
            for c in gateway:
                if c.status in FAILING:
                    found[f"{scenario}:{c.id}"] = f"{c.status}: {c.message}"
        succeeded = Counter(c.id for c in gateway if c.status == "SUCCESS")
        for check, times in Counter(c.id for c in checks if c.status == "SUCCESS").items():
            if succeeded[check] < times:
                statuses = [f"{c.status}: {c.message}" for c in gateway if c.id == check]
                found[f"{scenario}:{check}"] = "; ".join(statuses) or "not reported"
    return found


def covers(gap: str, key: str) -> bool:
    """Whether a listed gap explains a shortfall: a bare scenario covers all of its checks."""
    return key == gap or key.startswith(gap + ":")


def score(results: Results) -> str:
    """Scenarios passed and checks succeeded, for messages."""
    checks = [c for scenario in results.values() for c in scenario]
    scenarios = sum(passed(c) for c in results.values())
    succeeded = sum(c.status == "SUCCESS" for c in checks)
    return f"{scenarios}/{len(results)} scenarios, {succeeded}/{len(checks)} checks"


def _alone(server: str, run: str, out: Path) -> Results:
    with SERVERS[server].serving(out.with_suffix(".log")) as url:
        return run_suite(run, url, out)


@pytest.fixture(scope="session")
def alone(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Results]:
    """Every server's score on its own, in every run: once per session, a few at a time."""
    for run in RUNS:
        suite(run)
    for server in SERVERS.values():
        require(server.home)
    base = tmp_path_factory.mktemp("alone")
    with ThreadPoolExecutor(BASELINE_WORKERS) as pool:
        futures = {case: pool.submit(_alone, *case, base / "-".join(case)) for case in CASES}
    return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize(("server", "run"), CASES)
def test_gateway_by_url_scores_what_the_server_scores_alone(
    tmp_path: Path, alone: dict[tuple[str, str], Results], server: str, run: str
) -> None:
    direct = alone[server, run]
    with SERVERS[server].serving(tmp_path / "server.log") as url:
        manifest = {server: {"url": url, "prefix": False}}
        argv = [*gateway_argv(tmp_path, manifest), "--transport", "http", "--port", "0"]
        with serving(argv, tmp_path / "gateway.log") as gateway_url:
            through = run_suite(run, gateway_url, tmp_path / "gateway")
    found = shortfalls(direct, through)
    listed = load_gaps(GAPS_FILE.read_text()).get((server, run), {})
    scores = f"alone {score(direct)}; through the gateway {score(through)}"
    unexplained = {
        k: why[:300] for k, why in found.items() if not any(covers(g, k) for g in listed)
    }
    assert not unexplained, (
        f"the gateway scores lower than {server} alone ({scores}): {unexplained}"
    )
    stale = [gap for gap in listed if not any(covers(gap, key) for key in found)]
    assert not stale, (
        f"gaps that no longer show ({scores}); remove them from {GAPS_FILE.name}: {stale}"
    )
