"""Supervision: each service's session started, kept running, restarted and stopped.

Every service runs under a supervisor task of its own: a service that stops is started again
after an exponential back-off, until it fails `maxRestarts` times in a row. A reload stops the
removed services, starts the added ones and restarts the changed ones, leaving the rest and
their calls alone; a changed service reached by URL is rolled instead: the new upstream opens
and takes new calls, and the old one closes once its calls in flight have finished. With
`sessions: per-client`, a handshake-era client gets a session of its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Final

import anyio
from anyio.abc import TaskGroup

from micro_mcp.config.model import GatewayConfig, Manifest, ServiceSpec
from micro_mcp.config.references import ServiceSecrets, resolve_service
from micro_mcp.errors import McpError, UnresolvedReference, UpstreamUnavailable, leaf
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.services import subscriptions
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol.names import Namer
from micro_mcp.protocol.versions import Era
from micro_mcp.registry.loader import load_service_catalog
from micro_mcp.upstream.connect import Connector, OnSession, connect
from micro_mcp.upstream.session import SessionHandler, UpstreamSession
from micro_mcp.upstream.tokens import Tokens

logger = logging.getLogger(__name__)

STABLE_RUN: Final = 60.0
"""Seconds a service must run for its restart count and back-off to start over."""
MAX_RESTART_DELAY: Final = 30.0
"""The longest wait between restarts."""

DRAIN_CHECK_INTERVAL: Final = 0.1
"""Seconds between looks at the calls a replaced service still runs."""
DRAIN_GRACE: Final = 1.0
"""Seconds a replaced service is kept past its longest call timeout, for the last replies."""

CatalogChanged = Callable[[Service], None]
"""Told when a service that (re)started after the gateway's first start brought a new catalog."""


class Supervisor:
    """The configured services, and the tasks that keep each one's session running."""

    def __init__(
        self,
        manifest: Manifest,
        config: GatewayConfig,
        base_dir: Path,
        handler: SessionHandler,
        catalog_changed: CatalogChanged,
        connector: Connector = connect,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self.connector = connector
        self.base_dir = base_dir
        self.handler = handler
        self.catalog_changed = catalog_changed
        self.environ = environ
        """Where `${env:NAME}` references in the services' entries are looked up."""
        self.services = {
            ns: self._service(ns, spec, self._resolve(ns, spec))
            for ns, spec in manifest.mcp_servers.items()
        }
        """Namespace -> service, in manifest order; replaced whole by a reload."""
        self.tasks: TaskGroup | None = None
        """Where supervisors and per-client sessions run; set by the mesh while it runs."""

    def _service(
        self, namespace: str, spec: ServiceSpec, secrets: ServiceSecrets | UnresolvedReference
    ) -> Service:
        namer = Namer(namespace, self.config.separator, spec.prefix, self.config.names.rules())
        service = Service(namespace, spec, namer)
        if isinstance(secrets, UnresolvedReference):
            if not spec.disabled:
                service.state, service.error = "failed", str(secrets)
                logger.error("%s; the service is not started", secrets)
        else:
            service.secrets = secrets
            if spec.auth is not None and secrets.client_secret is not None:
                service.tokens = Tokens(namespace, spec.auth, secrets.client_secret)
        return service

    def _resolve(self, namespace: str, spec: ServiceSpec) -> ServiceSecrets | UnresolvedReference:
        """The service's `env` and `headers` resolved now (nothing to resolve when disabled),
        or why they cannot be."""
        if spec.disabled:
            return ServiceSecrets()
        try:
            return resolve_service(
                namespace,
                spec.env,
                spec.headers,
                environ=self.environ,
                base_dir=self.base_dir,
                client_secret=spec.auth.client_secret if spec.auth is not None else None,
            )
        except UnresolvedReference as exc:
            return exc

    def namers(self) -> dict[str, Namer]:
        """How each configured service's names appear, in manifest order."""
        return {ns: s.namer for ns, s in self.services.items()}

    def service(self, namespace: str) -> Service:
        """The service of a namespace.

        Raises:
            UpstreamUnavailable: no such service (any more: a reload removed it).
        """
        service = self.services.get(namespace)
        if service is None:
            raise UpstreamUnavailable(f"service {namespace!r} is no longer configured")
        return service

    # --- start, stop, reload ----------------------------------------------------------------

    async def start(self, services: Iterable[Service]) -> None:
        """Start services in parallel; returns once each first attempt is up or has failed,
        while restarts go on in the background."""
        assert self.tasks is not None, "the mesh runs the supervisor"
        async with anyio.create_task_group() as starting:
            for service in services:
                if service.state not in ("disabled", "failed"):
                    starting.start_soon(self.tasks.start, self._supervise, service)

    async def stop(self, service: Service) -> None:
        """Stop a service and every session kept for its clients; returns once its process is
        gone. Its calls in flight fail as unavailable."""
        for _session, scope in list(service.client_sessions.values()):
            scope.cancel()
        if service.scope is None:  # never started (disabled)
            return
        service.scope.cancel()
        await service.done.wait()

    async def replace(self, namespace: str, *, disabled: bool) -> Service:
        """Stop a service and put a fresh one with the same entry in its place, disabled or not;
        the caller starts it. Its entry in the manifest still rules: editing it replaces this.

        Raises:
            UpstreamUnavailable: no such service.
        """
        old = self.service(namespace)
        await self.stop(old)
        spec = old.spec.model_copy(update={"disabled": disabled})
        fresh = self._service(namespace, spec, self._resolve(namespace, spec))
        self.services = {ns: fresh if ns == namespace else s for ns, s in self.services.items()}
        return fresh

    async def reload(self, manifest: Manifest) -> tuple[list[str], list[str], list[str]]:
        """Stop what `manifest` removed or changed and put the new set in place; returns the
        namespaces added, removed and restarted. The caller starts `fresh` ones with `start`.

        An entry's references are resolved again: a changed value restarts the service with
        it; one that cannot be resolved keeps the running service as it is (and an added one
        is not started), with the reason logged."""
        wanted = manifest.mcp_servers
        old = self.services
        secrets = {ns: self._resolve(ns, spec) for ns, spec in wanted.items()}
        kept = {ns for ns in wanted if ns in old and isinstance(secrets[ns], UnresolvedReference)}
        for ns in kept:
            running = old[ns].secrets is not None  # else it never started for the same reason
            outcome = "the running service is kept as it is" if running else "still not started"
            logger.error("%s; %s", secrets[ns], outcome)
        added = [ns for ns in wanted if ns not in old]
        removed = [ns for ns in old if ns not in wanted]
        restarted = [
            ns
            for ns in wanted
            if ns in old
            and ns not in kept
            and (old[ns].spec != wanted[ns] or old[ns].secrets != secrets[ns])
        ]
        rolled = [ns for ns in restarted if _rolls(old[ns].spec, wanted[ns])]
        async with anyio.create_task_group() as stopping:
            for ns in removed + [ns for ns in restarted if ns not in rolled]:
                stopping.start_soon(self.stop, old[ns])
        fresh = {ns: self._service(ns, wanted[ns], secrets[ns]) for ns in added + restarted}
        for ns in rolled:  # the new upstream opens while the old one still serves
            fresh[ns].subscribed = dict(old[ns].subscribed)
        await self.start(fresh[ns] for ns in rolled)
        self.services = {ns: fresh.get(ns) or old[ns] for ns in wanted}
        for ns in rolled:
            if fresh[ns].state != "ready":
                logger.warning(
                    "service %s: the new entry is not up (%s); its calls fail until it is",
                    ns,
                    fresh[ns].error or fresh[ns].state,
                )
            assert self.tasks is not None, "the mesh runs the supervisor"
            self.tasks.start_soon(self._drain, old[ns])
        return added, removed, restarted

    async def _drain(self, service: Service) -> None:
        """Stop a service that was replaced once the calls it still runs have finished (at most
        its longest call timeout): new calls already go to its successor."""
        spec = service.spec
        limit = max([spec.timeout, *spec.tool_timeouts.values()]) + DRAIN_GRACE
        with anyio.move_on_after(limit):
            # The first look comes after one interval: a call routed here just before the
            # swap has taken its slot by then.
            await anyio.sleep(DRAIN_CHECK_INTERVAL)
            # Polled: a slot's release (in the relay) signals nothing, and a reload is rare.
            while service.slots.borrowed_tokens or service.queued:  # noqa: ASYNC110
                await anyio.sleep(DRAIN_CHECK_INTERVAL)
        left = int(service.slots.borrowed_tokens) + service.queued
        await self.stop(service)
        logger.info(
            "service %s: the replaced upstream %s closed after its calls drained%s",
            service.namespace,
            spec.url,
            f" ({left} still running were cut at {limit:g} s)" if left else "",
        )

    # --- one service ------------------------------------------------------------------------

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
                    await run.start(self._serve, service)
                    if not reported:
                        reported = True
                        task_status.started()
            except* (McpError, OSError) as group:
                exc = leaf(group)
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

    async def _serve(
        self, service: Service, *, task_status: anyio.abc.TaskStatus[UpstreamSession]
    ) -> None:
        async def ready(session: UpstreamSession) -> None:
            before = service.catalog
            service.session = session
            service.catalog = await load_service_catalog(session, service.spec.startup_timeout)
            await subscriptions.restore(service, session)
            service.state, service.error = "ready", None
            if service.catalog != before:
                self.catalog_changed(service)
            if service.restarts:
                logger.info(
                    "service %s: up again (restart %d)", service.namespace, service.restarts
                )

        try:
            await self._connect(service, service.spec, ready, task_status)
        except anyio.get_cancelled_exc_class():
            service.state = "stopped"  # the gateway is stopping it: nothing to warn about
            raise
        if service.state == "ready":
            logger.warning("service %s stopped; its calls fail as unavailable", service.namespace)
            service.state = "restarting"

    async def _connect(
        self,
        service: Service,
        spec: ServiceSpec,
        on_session: OnSession,
        task_status: anyio.abc.TaskStatus[UpstreamSession],
    ) -> None:
        assert service.secrets is not None, "a service whose references failed is not started"
        await self.connector(
            service.namespace,
            spec,
            self.handler,
            on_session,
            base_dir=self.base_dir,
            max_message_bytes=self.config.max_message_bytes,
            secrets=service.secrets,
            tokens=service.tokens,
            task_status=task_status,
        )

    # --- sessions per client ----------------------------------------------------------------

    async def session_for(self, service: Service, client: ClientSession) -> UpstreamSession:
        """The session `client` calls `service` on: the shared one, or, for a handshake-era
        client of a `per-client` service, its own, started on first need.

        Raises:
            UpstreamUnavailable: the service is not running or its client session cannot start.
        """
        shared = service.live_session()
        if client.era is not Era.HANDSHAKE or not _own_sessions(service, shared):
            return shared
        async with service.client_lock:
            own = service.client_sessions.get(client)
            if own is None and self.tasks is not None:
                try:
                    await self.tasks.start(self._serve_client_session, service, client)
                except* (McpError, OSError) as group:
                    exc = leaf(group)
                    raise UpstreamUnavailable(
                        f"service {service.namespace!r}: no session for this client: {exc}"
                    ) from exc
                own = service.client_sessions.get(client)
        return own[0] if own is not None else shared

    async def _serve_client_session(
        self,
        service: Service,
        client: ClientSession,
        *,
        task_status: anyio.abc.TaskStatus[UpstreamSession],
    ) -> None:
        with anyio.CancelScope() as scope:

            async def ready(session: UpstreamSession) -> None:
                session.owner = client
                service.client_sessions[client] = (session, scope)

            spec = service.spec.model_copy(update={"protocol": "handshake"})
            try:
                await self._connect(service, spec, ready, task_status)
            except* (McpError, OSError) as group:
                if client not in service.client_sessions:
                    raise  # it never started: session_for() reports it
                logger.warning(
                    "service %s: a client's session ended: %s", service.namespace, leaf(group)
                )
            finally:
                service.client_sessions.pop(client, None)

    def release(self, client: ClientSession) -> None:
        """A client left: stop the upstream sessions kept for it alone."""
        for service in self.services.values():
            held = service.client_sessions.pop(client, None)
            if held is not None:
                held[1].cancel()


def _rolls(old: ServiceSpec, new: ServiceSpec) -> bool:
    """Whether a changed entry replaces its service without a gap: both reached by URL (two
    upstreams can be open at once; a child process is restarted in place) and the new one
    enabled. The new one opens first, then the old one drains."""
    return old.url is not None and new.url is not None and not new.disabled


def _own_sessions(service: Service, shared: UpstreamSession) -> bool:
    """Whether each handshake-era client gets a session of its own on `service` (`sessions`)."""
    mode = service.spec.sessions
    if mode == "auto":
        # A 2026-07-28 session cannot carry a service's requests to a handshake-era client;
        # a session of the client's own era can, and over HTTP it is cheap to open.
        return service.spec.url is not None and shared.era is Era.MODERN
    return mode == "per-client"
