"""The circuit breaker's states, on anyio's clock."""

from __future__ import annotations

import pytest

from micro_mcp import codes
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.gateway.services.breaker import Breaker


class Clock:
    """Time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_failures_in_a_row_open_it_and_answers_reset_the_count() -> None:
    breaker = Breaker("svc", threshold=2, cooldown=60, clock=Clock())
    breaker.record(False)
    breaker.record(True)
    breaker.record(False)
    assert breaker.state == "closed"
    breaker.record(False)
    assert breaker.state == "open"
    with pytest.raises(UpstreamUnavailable) as refused:
        breaker.admit()
    assert refused.value.code == codes.UPSTREAM_UNAVAILABLE


def test_after_the_cooldown_one_probe_goes_through_and_decides() -> None:
    clock = Clock()
    breaker = Breaker("svc", threshold=1, cooldown=5, clock=clock)
    breaker.record(False)
    with pytest.raises(UpstreamUnavailable):
        breaker.admit()
    clock.now += 5
    breaker.admit()  # the probe
    assert breaker.state == "half-open"
    with pytest.raises(UpstreamUnavailable):
        breaker.admit()  # only one probe at a time
    breaker.record(None)  # the probe was cancelled: no verdict, the next call probes
    breaker.admit()
    breaker.record(True)
    assert breaker.state == "closed"
    breaker.admit()


def test_a_zero_threshold_never_opens() -> None:
    breaker = Breaker("svc", threshold=0, cooldown=1, clock=Clock())
    for _ in range(10):
        breaker.record(False)
    breaker.admit()
    assert breaker.state == "closed"
