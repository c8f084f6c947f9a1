"""The status snapshot the operator reads (`/admin/status`, the `/admin` page, `micro-mcp
status`): the gateway, each service (state, circuit, load, calls, what pinning holds back and
the catalog refused), the profiles and the read cache, built from the mesh and the metrics."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any, Final

from micro_mcp import __version__
from micro_mcp.gateway.core.cache import ReadCache
from micro_mcp.gateway.services.mesh import Mesh, Service
from micro_mcp.policy.model import Policy
from micro_mcp.registry import profiles
from micro_mcp.telemetry.metrics import Metrics
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.telemetry.status import (
    KINDS,
    GatewayStatus,
    ProfileStatus,
    ReplicaStatus,
    ServiceStatus,
)


def gateway_status(
    mesh: Mesh, recorder: Recorder, transport: str, cache: ReadCache | None = None
) -> GatewayStatus:
    """The gateway and its services now (with the cache of reads, when there is one)."""
    now = time.time()
    metrics = recorder.metrics
    refused: dict[str, list[str]] = {}
    for refusal in mesh.catalog.refused:
        refused.setdefault(refusal.namespace, []).append(refusal.describe())
    pinning = mesh.pinning
    services = tuple(
        replace(
            _service_status(s, metrics),
            held=tuple(h.describe() for h in pinning.held.get(s.namespace, ())),
            drifted=tuple(h.describe() for h in pinning.drifted.get(s.namespace, ())),
            refused=tuple(refused.get(s.namespace, ())),
        )
        for s in list(mesh.services.values())
    )
    return GatewayStatus(
        version=__version__,
        transport=transport,
        started_at=recorder.started_at,
        uptime_seconds=round(now - recorder.started_at, 3),
        clients=len(mesh.clients),
        catalog={kind: mesh.catalog.count(kind) for kind in KINDS},
        services=services,
        profiles=_profiles(mesh),
        cache=None if cache is None else asdict(cache.stats()),
        **_replicas(mesh),
    )


def _replicas(mesh: Mesh) -> dict[str, Any]:
    """This replica's config and the replicas alive, when they share a store."""
    replicas = mesh.replicas
    if replicas is None:
        return {}
    seen = tuple(
        ReplicaStatus(r.id, r.config, r.version, r.id == replicas.me) for r in replicas.seen
    )
    return {"config": replicas.fingerprint(), "replicas": seen}


PROFILE_PATH: Final = "/mcp/p/"
"""Where a profile is served over HTTP, before its name."""


def _profiles(mesh: Mesh) -> tuple[ProfileStatus, ...]:
    if not mesh.config.profiles:
        return ()
    catalog = mesh.catalog
    tags = {ns: service.spec.tags for ns, service in mesh.services.items()}
    everything = Policy()
    return tuple(
        ProfileStatus(
            name=name,
            description=profile.description,
            endpoint=PROFILE_PATH + name,
            catalog={
                kind: len(catalog.visible(kind, "", everything, None, profile)) for kind in KINDS
            },
        )
        for name, profile in profiles.resolve(mesh.config.profiles, tags).items()
    )


def _service_status(service: Service, metrics: Metrics) -> ServiceStatus:
    session, spec = service.session, service.spec
    ready = service.state == "ready" and session is not None
    calls, errors = metrics.tallies.get(service.namespace, (0, 0))
    calls_rate, errors_rate = metrics.rates(service.namespace)
    return ServiceStatus(
        namespace=service.namespace,
        state=service.state,
        error=service.error,
        transport="stdio" if spec.url is None else ("sse" if spec.type == "sse" else "http"),
        era=session.era.value if session is not None else None,
        uptime_seconds=round(time.monotonic() - session.opened_at, 3)
        if ready and session is not None
        else None,
        restarts=service.restarts,
        in_flight=int(service.slots.borrowed_tokens),
        queued=service.queued,
        max_concurrent=spec.max_concurrent,
        circuit=service.breaker.state,
        catalog={kind: len(service.catalog.items(kind)) for kind in KINDS},
        calls=calls,
        errors=errors,
        calls_per_second=round(calls_rate, 3),
        errors_per_second=round(errors_rate, 3),
    )
