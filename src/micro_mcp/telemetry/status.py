"""What an operator sees of a running gateway: one snapshot, read when asked.

`gateway/admin.py` builds a `GatewayStatus` from the mesh; the Prometheus collector, the
`/admin/status` JSON and its page all read the same snapshot, so they never disagree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

STATES: Final = ("starting", "ready", "restarting", "failed", "stopped", "disabled")
"""Every state a service can be in (`Service.state`), so a state gauge has a fixed set."""
CIRCUITS: Final = ("closed", "half-open", "open")
"""Every state of a service's circuit breaker."""
KINDS: Final = ("tools", "prompts", "resources", "resourceTemplates")
"""Catalog kinds, as MCP names their lists."""


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One service now."""

    namespace: str
    state: str
    error: str | None
    transport: str
    """`stdio`, or `http` / `sse` for a service by URL."""
    era: str | None
    """The protocol era spoken with it (`handshake`, `modern`), once connected."""
    uptime_seconds: float | None
    """Seconds since its current session opened; None unless `ready`."""
    restarts: int
    in_flight: int
    queued: int
    max_concurrent: int
    circuit: str
    catalog: dict[str, int]
    """Items per kind (`tools`, `prompts`, `resources`, `resourceTemplates`)."""
    calls: int
    """Requests routed to it since the gateway started."""
    errors: int
    """Of those, answered with an error or a tool error."""
    calls_per_second: float
    """Over the last minute (or since start, if sooner)."""
    errors_per_second: float
    held: tuple[str, ...] = ()
    """Tools, prompts and templates pinning holds back until approved, each with its change."""
    drifted: tuple[str, ...] = ()
    """With `pinning: warn`, changes since approval that are served anyway."""
    refused: tuple[str, ...] = ()
    """Names not exposed because they read as another service's, or clash."""


@dataclass(frozen=True, slots=True)
class ReplicaStatus:
    """One replica of the deployment, as it last announced itself in the shared store."""

    id: str
    """Its host name and process id (a pod's name on Kubernetes)."""
    config: str
    """The fingerprint of the config it runs (gateway config and manifest, as loaded)."""
    version: str
    this: bool
    """Whether it is the replica that answered."""


@dataclass(frozen=True, slots=True)
class ProfileStatus:
    """One profile (virtual server) and what it holds now."""

    name: str
    description: str
    endpoint: str
    """Its HTTP path (`/mcp/p/NAME`)."""
    catalog: dict[str, int]
    """Items per kind the profile holds (before any principal's policy)."""


@dataclass(frozen=True, slots=True)
class GatewayStatus:
    """The gateway and all its services now."""

    version: str
    transport: str
    started_at: float
    """Unix time the gateway started."""
    uptime_seconds: float
    clients: int
    """Client sessions connected now: stdio, HTTP sessions, 2026-07-28 requests in flight."""
    catalog: dict[str, int]
    """Items per kind in the merged catalog (before any policy)."""
    services: tuple[ServiceStatus, ...]
    profiles: tuple[ProfileStatus, ...] = ()
    """The config's profiles, each with the tools it holds (before any principal's policy)."""
    cache: dict[str, int] | None = None
    """The cache of reads (`entries`, `bytes`, `hits`, `misses`); None when it is off."""
    config: str | None = None
    """The fingerprint of the config this replica runs; None without a shared store."""
    replicas: tuple[ReplicaStatus, ...] = ()
    """With a shared store, the replicas alive (this one included), by id; they agree when
    all run the same config and version."""

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data (`/admin/status`)."""
        return asdict(self)
