"""The mesh: the services behind the gateway, put together from the owners of each concern.

- `Supervisor` (supervisor.py): each service's session, started, restarted, stopped, reloaded.
- `CatalogStore` (catalog_store.py): the merged catalog's snapshots.
- `Notifier` (notifications.py) and `subscriptions`: what reaches clients unasked, and the
  resource subscriptions counted over clients.
- `CallTable` and `Clients` (gateway/clients/): the calls in flight and the connected clients,
  shared by the relay and by `ServiceMessages`, which routes what services send.

The mesh runs them in one task group and answers the core's questions about services.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup

from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.config.pinning import Mode
from micro_mcp.errors import McpError, PinStoreError
from micro_mcp.gateway.clients.calls import CallTable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.clients.registry import Clients
from micro_mcp.gateway.services import subscriptions
from micro_mcp.gateway.services.catalog_store import CatalogStore
from micro_mcp.gateway.services.notifications import Notifier
from micro_mcp.gateway.services.pinning import Pinning
from micro_mcp.gateway.services.service import Service
from micro_mcp.gateway.services.service_messages import ServiceMessages
from micro_mcp.gateway.services.supervisor import Supervisor
from micro_mcp.registry.catalog import Catalog, ServiceCatalog
from micro_mcp.registry.loader import load_service_catalog
from micro_mcp.state.replicas import Replicas
from micro_mcp.upstream.connect import Connector, connect
from micro_mcp.upstream.session import UpstreamSession

logger = logging.getLogger(__name__)

ALL_LISTS = ("tools", "prompts", "resources")


class Mesh:
    """All services, their catalog, and the routing of what they send."""

    def __init__(
        self,
        manifest: Manifest,
        config: GatewayConfig,
        base_dir: Path,
        connector: Connector = connect,
        pinning: Pinning | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.config = config
        self.pinning = pinning if pinning is not None else Pinning()
        """Tool pins: approvals, and what each service has held back (in memory by default)."""
        self.replicas: Replicas | None = None
        """With a shared store, this replica's announcements and the others it sees."""
        self.clients = Clients()
        self.calls = CallTable()
        self.notifier = Notifier(self.clients, self.calls, self._spawn)
        messages = ServiceMessages(
            lambda ns: self.supervisor.services.get(ns),
            self.clients,
            self.calls,
            self.notifier,
            self.refresh,
            self._spawn,
        )
        self.supervisor = Supervisor(
            manifest, config, base_dir, messages, self._catalog_changed, connector, environ
        )
        self.store = CatalogStore(self.supervisor.namers())
        self.clients.on_release(self.supervisor.release)
        self.started = anyio.Event()
        self._tasks: TaskGroup | None = None
        self._reloading = anyio.Lock()

    # --- what the core and the operator read ------------------------------------------------

    @property
    def services(self) -> dict[str, Service]:
        """Namespace -> service, in manifest order."""
        return self.supervisor.services

    @property
    def catalog(self) -> Catalog:
        """The current catalog snapshot."""
        return self.store.current

    def snapshot(self, fingerprint: int, kind: str) -> Catalog | None:
        """A recent catalog snapshot by the fingerprint of its list of `kind`, for cursors."""
        return self.store.snapshot(fingerprint, kind)

    def service(self, namespace: str) -> Service:
        """The service of a namespace.

        Raises:
            UpstreamUnavailable: no such service (any more: a reload removed it).
        """
        return self.supervisor.service(namespace)

    async def session_for(self, service: Service, client: ClientSession) -> UpstreamSession:
        """The session `client` calls `service` on (its own, or the shared one).

        Raises:
            UpstreamUnavailable: the service is not running, or cannot open this client's own
                session.
        """
        return await self.supervisor.session_for(service, client)

    async def subscribe(self, namespace: str, uri: str, add: bool) -> None:
        """Count a client's interest in a service URI, and tell the service when it changes.

        Raises:
            McpError: the service refused or is unavailable.
        """
        await subscriptions.change(self.supervisor.service(namespace), uri, add)

    # --- lifetime ---------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Start every enabled service in parallel; serve until cancelled, then stop them all."""
        async with anyio.create_task_group() as tg:
            self._tasks = self.supervisor.tasks = tg
            task_status.started()
            async with self._reloading:  # a reload waits until the first start is over
                await self.supervisor.start(self.services.values())
                self._rebuild()
                self.started.set()
            up = [s.namespace for s in self.services.values() if s.state == "ready"]
            catalog = self.catalog
            logger.info(
                "gateway ready: %d of %d services up (%s); %d tools, %d prompts, %d resources, "
                "%d resource templates",
                len(up),
                len(self.services),
                ", ".join(up) or "none",
                catalog.count("tools"),
                catalog.count("prompts"),
                catalog.count("resources"),
                catalog.count("resourceTemplates"),
            )
            # The group outlives its tasks: a reload that restarts the only service (or adds the
            # first) starts its supervisor here, which an exited group would refuse.
            await anyio.sleep_forever()

    async def reload(self, manifest: Manifest) -> dict[str, list[str]]:
        """Make the running services match `manifest`: stop the removed ones, start the added
        ones, restart those whose entry changed, and leave the rest (and their clients' calls)
        alone. Clients get `list_changed` for what changed.

        Returns the namespaces `added`, `removed` and `restarted`.
        """
        async with self._reloading:
            before = self.services
            added, removed, restarted = await self.supervisor.reload(manifest)
            if not (added or removed or restarted):
                return {"added": [], "removed": [], "restarted": []}
            self._rebuild()  # what went away is gone from the lists before anything new starts
            await self.supervisor.start(  # those rolled in by URL have started already
                s for s in self.services.values() if s not in before.values() and s.scope is None
            )
            self._rebuild()
            self.notifier.list_changed(ALL_LISTS)
            logger.info(
                "manifest reloaded: added %s; removed %s; restarted %s",
                ", ".join(added) or "none",
                ", ".join(removed) or "none",
                ", ".join(restarted) or "none",
            )
            return {"added": added, "removed": removed, "restarted": restarted}

    async def restart(self, namespace: str, *, disable: bool = False) -> None:
        """Stop a service and start it afresh, or, with `disable`, leave it stopped and
        `disabled` until restarted or its manifest entry changes; clients get `list_changed`.

        Raises:
            UpstreamUnavailable: no such service.
        """
        async with self._reloading:
            fresh = await self.supervisor.replace(namespace, disabled=disable)
            self._rebuild()
            await self.supervisor.start([fresh])
            self._rebuild()
            self.notifier.list_changed(ALL_LISTS)
            logger.info("service %s %s by the operator", namespace, fresh.state)

    # --- the catalog ------------------------------------------------------------------------

    def _rebuild(self) -> None:
        judged: dict[str, tuple[Mode, ServiceCatalog]] = {
            ns: (s.spec.pinning, s.catalog) for ns, s in self.services.items()
        }
        catalogs, held = self.pinning.apply(judged)
        overrides = {ns: s.spec.tools for ns, s in self.services.items() if s.spec.tools}
        self.store.rebuild(self.supervisor.namers(), catalogs, held, overrides)
        if self.pinning.unwritten:
            self._spawn(self.pinning.write)

    async def reload_pins(self) -> bool:
        """Read the pin store again (an operator approved something); when approvals changed,
        rebuild the catalog and tell clients. A broken store is logged and the approvals in
        memory stay. Returns whether the store could be read."""
        try:
            changed = await self.pinning.load()
        except PinStoreError as exc:
            logger.error("pinning: the approvals in memory stay: %s", exc)
            return False
        if changed:
            self._rebuild()
            self.notifier.list_changed(ALL_LISTS)
            logger.info("pinning: approvals reloaded from %s", self.pinning.store.describe())
        return True

    def _catalog_changed(self, service: Service) -> None:
        if self.started.is_set():  # a late or restarted service: clients see what changed
            self._rebuild()
            self.notifier.list_changed(ALL_LISTS, service.namespace)

    async def refresh(self, service: Service, kind: str) -> None:
        """Read one of a service's lists again (it said it changed) and tell clients."""
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
        self.notifier.list_changed((kind,), service.namespace)

    def _spawn(self, func: Any, *args: Any) -> None:
        if self._tasks is not None:
            self._tasks.start_soon(func, *args)
