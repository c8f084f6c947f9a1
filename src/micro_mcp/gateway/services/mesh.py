"""The mesh: every service's process and session, the merged catalog, and messages from services.

The mesh starts the services in parallel and keeps the catalog current. Messages a service
starts (progress, log lines, list changes, resource updates, requests) are routed here to the
client they belong to.
"""

from __future__ import annotations

import functools
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import anyio
from anyio.abc import TaskGroup

from micro_mcp.config.model import GatewayConfig, Manifest, ServiceSpec
from micro_mcp.errors import McpError, UpstreamUnavailable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.services.breaker import Breaker
from micro_mcp.gateway.services.inbound import ServiceMessages
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.protocol.names import Namer
from micro_mcp.protocol.versions import Era
from micro_mcp.registry.catalog import Catalog, ServiceCatalog
from micro_mcp.registry.loader import load_service_catalog
from micro_mcp.upstream.http import run_http_service
from micro_mcp.upstream.legacy_sse import run_sse_service
from micro_mcp.upstream.session import UpstreamSession
from micro_mcp.upstream.stdio import run_stdio_service

logger = logging.getLogger(__name__)

STABLE_RUN: Final = 60.0
"""Seconds a service must run for its restart count and back-off to start over."""
MAX_RESTART_DELAY: Final = 30.0
"""The longest wait between restarts."""
SNAPSHOTS_KEPT: Final = 8
"""Catalog snapshots kept for cursors cut from an older one: a client paging through a list
while the catalog changes still gets consistent pages."""


@dataclass(eq=False, slots=True)
class Service:
    """One configured service and what is known of it now."""

    namespace: str
    spec: ServiceSpec
    namer: Namer
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

    @property
    def health(self) -> str:
        """`state` for operators, with `degraded` for a running service whose circuit is open."""
        if self.state == "ready" and self.breaker.state != "closed":
            return "degraded"
        return self.state

    def __post_init__(self) -> None:
        self.slots = anyio.CapacityLimiter(self.spec.max_concurrent)
        self.breaker = Breaker(
            self.namespace, self.spec.breaker_failures, self.spec.breaker_cooldown
        )

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


@dataclass(eq=False, slots=True)
class CallContext:
    """A call in flight: whose progress tokens and log lines belong to whom."""

    client: ClientSession
    request_id: RequestId
    """The client's id for the call, so what belongs to it travels with its response."""
    progress_token: Any
    log_level: str | None


class Mesh:
    """All services, their catalog, and the routing of what they send."""

    def __init__(self, manifest: Manifest, config: GatewayConfig, base_dir: Path) -> None:
        self.config = config
        self.base_dir = base_dir
        self.services = {ns: self._service(ns, spec) for ns, spec in manifest.mcp_servers.items()}
        self._namers = {ns: s.namer for ns, s in self.services.items()}
        self._generation = 0
        self.catalog = Catalog.build(0, self._namers, {})
        self._snapshots: OrderedDict[int, Catalog] = OrderedDict({0: self.catalog})
        self.started = anyio.Event()
        self.clients: set[ClientSession] = set()
        self.calls: dict[tuple[str, Any], CallContext] = {}
        """(namespace, gateway progress token or request id) -> the call it belongs to."""
        self.inbound = ServiceMessages(self)
        self.tasks: TaskGroup | None = None
        """Where the mesh runs what outlives one request; set while `run` runs."""
        self._reloading = anyio.Lock()

    def _service(self, namespace: str, spec: ServiceSpec) -> Service:
        service = Service(namespace, spec, Namer(namespace, self.config.separator, spec.prefix))
        if spec.disabled:
            service.state = "disabled"
        return service

    # --- lifetime ---------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Start every enabled service in parallel; serve until cancelled, then stop them all."""
        async with anyio.create_task_group() as tg:
            self.tasks = tg
            task_status.started()
            async with self._reloading:  # a reload waits until the first start is over
                await self._start_all(self.services.values())
                self._rebuild()
                self.started.set()
            up = [s.namespace for s in self.services.values() if s.state == "ready"]
            logger.info(
                "gateway ready: %d of %d services up (%s); %d tools, %d prompts, %d resources, "
                "%d resource templates",
                len(up),
                len(self.services),
                ", ".join(up) or "none",
                self.catalog.count("tools"),
                self.catalog.count("prompts"),
                self.catalog.count("resources"),
                self.catalog.count("resourceTemplates"),
            )

    async def _start_all(self, services: Iterable[Service]) -> None:
        """Start services in parallel; returns once each first attempt is up or has failed, while
        restarts go on in the background."""
        assert self.tasks is not None
        async with anyio.create_task_group() as starting:
            for service in services:
                if service.state != "disabled":
                    starting.start_soon(self.tasks.start, self._supervise, service)

    async def reload(self, manifest: Manifest) -> dict[str, list[str]]:
        """Make the running services match `manifest`: stop the removed ones, start the added
        ones, restart those whose entry changed, and leave the rest (and their clients' calls)
        alone. Clients get `list_changed` for what changed.

        Returns the namespaces `added`, `removed` and `restarted`.
        """
        async with self._reloading:
            wanted = manifest.mcp_servers
            old = self.services
            added = [ns for ns in wanted if ns not in old]
            removed = [ns for ns in old if ns not in wanted]
            restarted = [ns for ns in wanted if ns in old and old[ns].spec != wanted[ns]]
            if not (added or removed or restarted):
                return {"added": [], "removed": [], "restarted": []}
            async with anyio.create_task_group() as stopping:
                for ns in removed + restarted:
                    stopping.start_soon(self._stop, old[ns])
            fresh = {ns: self._service(ns, wanted[ns]) for ns in added + restarted}
            self.services = {ns: fresh.get(ns) or old[ns] for ns in wanted}
            self._namers = {ns: s.namer for ns, s in self.services.items()}
            self._rebuild()  # what went away is gone from the lists before anything new starts
            await self._start_all(fresh.values())
            self._rebuild()
            self._notify_list_changed(("tools", "prompts", "resources"))
            logger.info(
                "manifest reloaded: added %s; removed %s; restarted %s",
                ", ".join(added) or "none",
                ", ".join(removed) or "none",
                ", ".join(restarted) or "none",
            )
            return {"added": added, "removed": removed, "restarted": restarted}

    async def _stop(self, service: Service) -> None:
        """Stop a service and every session kept for its clients; returns once its process is
        gone. Its calls in flight fail as unavailable."""
        for _session, scope in list(service.client_sessions.values()):
            scope.cancel()
        if service.scope is None:  # never started (disabled)
            return
        service.scope.cancel()
        await service.done.wait()

    async def _supervise(
        self, service: Service, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        """Run the service, and run it again when it stops: backing off, up to a limit."""
        try:
            with anyio.CancelScope() as service.scope:
                await self._keep_running(service, task_status)
            if service.scope.cancel_called:
                service.state = "stopped"  # also when it was waiting to restart
        finally:
            service.done.set()

    async def _keep_running(
        self, service: Service, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        spec, reported, in_a_row = service.spec, False, 0
        while True:
            began = anyio.current_time()
            try:
                async with anyio.create_task_group() as run:
                    await run.start(self._serve_service, service)
                    if not reported:
                        reported = True
                        task_status.started()
            except* (McpError, OSError) as group:
                exc = _leaf(group)
                service.error = exc.message if isinstance(exc, McpError) else str(exc)
                logger.error("service %s failed: %s", service.namespace, service.error)
            if not reported:  # the first start failed: the gateway goes on without it for now
                reported = True
                task_status.started()
            in_a_row = 1 if anyio.current_time() - began >= STABLE_RUN else in_a_row + 1
            if in_a_row > spec.max_restarts:
                service.state = "failed"
                logger.error(
                    "service %s: %d failures in a row; not restarted again",
                    service.namespace,
                    in_a_row,
                )
                return
            delay = min(spec.restart_delay * 2 ** (in_a_row - 1), MAX_RESTART_DELAY)
            service.state = "restarting"
            logger.warning(
                "service %s: restarting in %.1f s (%d of %d)",
                service.namespace,
                delay,
                in_a_row,
                spec.max_restarts,
            )
            await anyio.sleep(delay)
            service.restarts += 1

    async def _serve_service(
        self, service: Service, *, task_status: anyio.abc.TaskStatus[UpstreamSession]
    ) -> None:
        async def ready(session: UpstreamSession) -> None:
            before = service.catalog
            service.session = session
            service.listen_id = None  # any listen belonged to the previous process
            service.catalog = await load_service_catalog(session, service.spec.startup_timeout)
            if session.era is Era.MODERN:
                await self._relisten(service)
            else:
                for uri in service.subscribed:  # a restarted service forgot its subscribers
                    await session.request(
                        "resources/subscribe", {"uri": uri}, timeout=service.spec.timeout
                    )
            service.state, service.error = "ready", None
            if self.started.is_set() and service.catalog != before:
                self._rebuild()  # a late or restarted service: clients see what changed
                self._notify_list_changed(("tools", "prompts", "resources"))

        try:
            await self._run_service(service.namespace, service.spec, ready, task_status)
        except anyio.get_cancelled_exc_class():
            service.state = "stopped"  # the gateway is stopping it: nothing to warn about
            raise
        if service.state == "ready":
            logger.warning("service %s stopped; its calls fail as unavailable", service.namespace)
            service.state = "restarting"

    # --- catalog ----------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self._generation += 1
        catalogs = {ns: s.catalog for ns, s in self.services.items()}
        self.catalog = Catalog.build(self._generation, self._namers, catalogs)
        self._snapshots[self._generation] = self.catalog
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)

    def snapshot(self, generation: int) -> Catalog | None:
        """A recent catalog snapshot by generation, for cursors."""
        return self._snapshots.get(generation)

    async def refresh(self, service: Service, kind: str) -> None:
        session = service.session
        if session is None:
            return
        try:
            kinds = ("resources", "resourceTemplates") if kind == "resources" else (kind,)
            catalog = service.catalog
            for each in kinds:
                catalog = await load_service_catalog(
                    session, service.spec.timeout, only=each, previous=catalog
                )
        except McpError as exc:
            logger.warning(
                "service %s: could not refresh its %s: %s", service.namespace, kind, exc.message
            )
            return
        service.catalog = catalog
        self._rebuild()
        self._notify_list_changed((kind,))

    def _notify_list_changed(self, kinds: tuple[str, ...]) -> None:
        if self.tasks is None:
            return
        for client in list(self.clients):
            for kind in kinds:
                self.tasks.start_soon(self._send_list_changed, client, kind)

    async def _send_list_changed(self, client: ClientSession, kind: str) -> None:
        method = f"notifications/{kind}/list_changed"
        if client.era is Era.HANDSHAKE:
            await client.send_quietly(jsonrpc.notification(method))
            return
        for listen_id, listen in list(client.listens.items()):
            if getattr(listen, kind):
                params = {versions.META: {versions.SUBSCRIPTION_ID_KEY: listen_id}}
                await client.send_quietly(jsonrpc.notification(method, params), listen_id)

    # --- subscriptions ----------------------------------------------------------------------

    async def subscribe(self, service: Service, uri: str, add: bool) -> None:
        """Count a client's interest in a service URI, and tell the service when it changes.

        Raises:
            McpError: the service refused or is unavailable.
        """
        count = service.subscribed.get(uri, 0) + (1 if add else -1)
        if count > 0:
            service.subscribed[uri] = count
        else:
            service.subscribed.pop(uri, None)
        if (count == 1 and add) or (count <= 0 and not add):
            session = self._session(service)
            if session.era is Era.MODERN:
                await self._relisten(service)
            else:
                method = "resources/subscribe" if add else "resources/unsubscribe"
                await session.request(method, {"uri": uri}, timeout=service.spec.timeout)

    async def _relisten(self, service: Service) -> None:
        """Hold one `subscriptions/listen` on a 2026-07-28 service covering all we need from it."""
        session = service.session
        assert session is not None
        caps = session.capabilities
        wanted: dict[str, Any] = {}
        for kind, key in (
            ("tools", "toolsListChanged"),
            ("prompts", "promptsListChanged"),
            ("resources", "resourcesListChanged"),
        ):
            if isinstance(caps.get(kind), dict) and caps[kind].get("listChanged"):
                wanted[key] = True
        if service.subscribed:
            wanted["resourceSubscriptions"] = sorted(service.subscribed)
        old = service.listen_id
        service.listen_id = await session.listen(wanted) if wanted else None
        if old is not None:
            await session.unlisten(old)

    def _session(self, service: Service) -> UpstreamSession:
        if service.session is None or service.state != "ready":
            raise UpstreamUnavailable(
                f"service {service.namespace!r} is unavailable ({service.state}"
                + (f": {service.error})" if service.error else ")")
            )
        return service.session

    async def session_for(
        self, namespace: str, client: ClientSession
    ) -> tuple[Service, UpstreamSession]:
        """The session `client` calls the service on: the shared one, or, for a handshake-era
        client of a `per-client` service, its own, started on first need.

        Raises:
            UpstreamUnavailable: the service is not running or its client session cannot start.
        """
        service, shared = self.session_of(namespace)
        if service.spec.sessions != "per-client" or client.era is not Era.HANDSHAKE:
            return service, shared
        async with service.client_lock:
            own = service.client_sessions.get(client)
            if own is None and self.tasks is not None:
                try:
                    await self.tasks.start(self._serve_client_session, service, client)
                except* (McpError, OSError) as group:
                    exc = _leaf(group)
                    raise UpstreamUnavailable(
                        f"service {namespace!r}: no session for this client: {exc}"
                    ) from exc
                own = service.client_sessions.get(client)
        return service, own[0] if own is not None else shared

    async def _serve_client_session(
        self,
        service: Service,
        client: ClientSession,
        *,
        task_status: anyio.abc.TaskStatus[UpstreamSession],
    ) -> None:
        with anyio.CancelScope() as scope:

            async def ready(session: UpstreamSession) -> None:
                service.client_sessions[client] = (session, scope)

            spec = service.spec.model_copy(update={"protocol": "handshake"})
            try:
                await self._run_service(service.namespace, spec, ready, task_status)
            except* (McpError, OSError) as group:
                if client not in service.client_sessions:
                    raise  # it never started: session_for() reports it
                logger.warning(
                    "service %s: a client's session ended: %s", service.namespace, _leaf(group)
                )
            finally:
                service.client_sessions.pop(client, None)

    def release(self, client: ClientSession) -> None:
        """A client left: stop the upstream sessions kept for it alone."""
        self.clients.discard(client)
        for service in self.services.values():
            held = service.client_sessions.pop(client, None)
            if held is not None:
                held[1].cancel()

    async def _run_service(
        self,
        namespace: str,
        spec: ServiceSpec,
        ready: Callable[[UpstreamSession], Awaitable[None]],
        task_status: anyio.abc.TaskStatus[UpstreamSession],
    ) -> None:
        """Run one session to a service over its transport until it ends or is cancelled."""
        limit = self.config.max_message_bytes
        if spec.url is None:
            await run_stdio_service(
                namespace,
                spec,
                self.base_dir,
                self.inbound,
                ready,
                max_message_bytes=limit,
                task_status=task_status,
            )
            return
        common = (namespace, spec, self.inbound, ready)
        over_sse = functools.partial(
            run_sse_service, *common, max_message_bytes=limit, task_status=task_status
        )
        if spec.type == "sse":
            await over_sse()
            return
        try:
            await run_http_service(*common, max_message_bytes=limit, task_status=task_status)
        except* McpError as group:
            if spec.type is not None:
                raise
            # No Streamable HTTP at this URL: try the 2024-11-05 HTTP+SSE transport once.
            logger.info("service %s: %s; trying HTTP+SSE", namespace, _leaf(group))
            await over_sse()

    def session_of(self, namespace: str) -> tuple[Service, UpstreamSession]:
        """The service and its live session.

        Raises:
            UpstreamUnavailable: the service is not running.
        """
        return (service := self.service(namespace)), self._session(service)

    def service(self, namespace: str) -> Service:
        """The service of a namespace.

        Raises:
            UpstreamUnavailable: no such service (any more: a reload removed it).
        """
        service = self.services.get(namespace)
        if service is None:
            raise UpstreamUnavailable(f"service {namespace!r} is no longer configured")
        return service


def _leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first exception in a (nested) group: task groups wrap even a single failure."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        # isinstance() cannot recover the member type; every group member is a BaseException.
        exc = cast("BaseExceptionGroup[BaseException]", exc).exceptions[0]
    return exc
