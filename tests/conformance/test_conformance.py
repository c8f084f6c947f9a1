"""The official MCP conformance suite, run against the fixture server alone and through the gateway.

The gateway fronts `tests/fixtures/conformance_server.py` mounted without prefix, over
Streamable HTTP. For every suite run, each scenario the gateway fails must be one the fixture
fails on its own, listed with its reason in `expected-failures.yml`; and every entry there must
still fail directly, so the list cannot go stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tests.conformance.harness import RUNS, failing, run_suite, serving, suite
from tests.e2e.conftest import free_port, gateway_argv

pytestmark = [pytest.mark.conformance, pytest.mark.e2e]

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parents[1] / "tests" / "fixtures" / "conformance_server.py"
BASELINE = set(yaml.safe_load((HERE / "expected-failures.yml").read_text())["server"])


@pytest.mark.parametrize("run", list(RUNS))
def test_gateway_scores_what_the_fixture_scores_alone(tmp_path: Path, run: str) -> None:
    suite(run)
    port = free_port()
    direct_argv = [sys.executable, str(FIXTURE), "--http", "--port", str(port)]
    with serving(direct_argv, tmp_path / "direct.log", port) as url:
        direct = failing(run_suite(run, url, tmp_path / "direct"))
    # per-client: the handshake-era scenarios have the fixture ask the client by request
    # (sampling, elicitation), which needs a handshake-era session for each client.
    conf = {"command": "python", "args": [str(FIXTURE)], "prefix": False, "sessions": "per-client"}
    services = {"conf": conf}
    gateway = [*gateway_argv(tmp_path, services), "--transport", "http", "--port", "0"]
    with serving(gateway, tmp_path / "gateway.log") as url:
        through = failing(run_suite(run, url, tmp_path / "gateway"))
    unlisted = {name: errors for name, errors in direct.items() if name not in BASELINE}
    assert not unlisted, f"fixture failures missing from the baseline: {unlisted}"
    worse = {name: errors for name, errors in through.items() if name not in direct}
    assert not worse, f"the gateway fails what the fixture passes: {worse}"
