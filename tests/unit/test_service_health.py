"""A service's health as operators see it: its state, and `degraded` while its circuit is open."""

from __future__ import annotations

import pytest

from micro_mcp.config.model import ServiceSpec
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol.names import Namer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_ready_service_with_an_open_circuit_is_degraded_until_it_answers() -> None:
    spec = ServiceSpec(command="x", breakerFailures=2)
    service = Service("one", spec, Namer("one", ".", True))
    service.state = "ready"
    assert service.health == "ready"
    service.breaker.record(False)
    assert service.health == "ready", "one failure does not open the circuit"
    service.breaker.record(False)
    assert service.health == "degraded"
    service.breaker.record(True)
    assert service.health == "ready"
    service.state = "restarting"
    assert service.health == "restarting"
