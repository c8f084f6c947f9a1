"""One configured service and what is known of it now."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio

from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.references import ServiceSecrets
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.services.breaker import Breaker
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import ServiceCatalog
from micro_mcp.upstream.session import UpstreamSession
from micro_mcp.upstream.tokens import Tokens


@dataclass(eq=False, slots=True)
class Service:
    """One configured service: its state, its session, its catalog and its limits."""

    namespace: str
    spec: ServiceSpec
    namer: Namer
    secrets: ServiceSecrets | None = None
    """Its `env` and `headers` with references resolved; None when they could not be (the
    service is then `failed`, with the reason in `error`) or it is disabled."""
    tokens: Tokens | None = None
    """Its OAuth tokens (its entry's `auth`), shared by its sessions; None without `auth`."""
    state: str = "starting"
    """`starting`, `ready`, `restarting`, `failed` (given up), `stopped` (by the gateway), or
    `disabled`."""
    restarts: int = 0
    """Times the gateway restarted the service since it began."""
    breaker: Breaker = field(init=False)
    """Fails calls fast while the service keeps timing out or dropping its connection."""
    slots: anyio.CapacityLimiter = field(init=False)
    """The bulkhead: at most `maxConcurrent` calls on the service at once."""
    queued: int = 0
    """Calls waiting for a slot."""
    error: str | None = None
    session: UpstreamSession | None = None
    catalog: ServiceCatalog = field(default_factory=ServiceCatalog)
    listen_id: RequestId | None = None
    """The `subscriptions/listen` held open on a 2026-07-28 service."""
    subscribed: dict[str, int] = field(default_factory=dict[str, int])
    """Service URI -> how many client subscriptions want it."""
    client_sessions: dict[ClientSession, tuple[UpstreamSession, anyio.CancelScope]] = field(
        default_factory=dict[ClientSession, tuple[UpstreamSession, anyio.CancelScope]]
    )
    """With `sessions: per-client`, the session of each handshake-era client, and what stops it."""
    client_lock: anyio.Lock = field(default_factory=anyio.Lock)
    scope: anyio.CancelScope | None = None
    """Stops the service's supervisor (and so its process); set while the supervisor runs."""
    done: anyio.Event = field(default_factory=anyio.Event)
    """Set when the supervisor has returned and the process is gone."""

    def __post_init__(self) -> None:
        self.slots = anyio.CapacityLimiter(self.spec.max_concurrent)
        self.breaker = Breaker(
            self.namespace, self.spec.breaker_failures, self.spec.breaker_cooldown
        )
        if self.spec.disabled:
            self.state = "disabled"

    @property
    def health(self) -> str:
        """`state` for operators, with `degraded` for a running service whose circuit is open."""
        if self.state == "ready" and self.breaker.state != "closed":
            return "degraded"
        return self.state

    def live_session(self) -> UpstreamSession:
        """The session calls go over now.

        Raises:
            UpstreamUnavailable: the service is not running.
        """
        if self.session is None or self.state != "ready":
            raise UpstreamUnavailable(
                f"service {self.namespace!r} is unavailable ({self.state}"
                + (f": {self.error})" if self.error else ")")
            )
        return self.session
