"""What reaches clients without their asking: list changes, resource updates, progress and
log lines from services. Each goes to the clients it concerns, in the form of their era."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from micro_mcp.gateway.clients.calls import CallTable
from micro_mcp.gateway.clients.client import ClientSession, log_rank
from micro_mcp.gateway.clients.registry import Clients
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.protocol.names import Namer
from micro_mcp.protocol.versions import Era

logger = logging.getLogger(__name__)

Spawn = Callable[..., None]
"""Starts a coroutine function with its arguments in a task of the mesh's lifetime."""
Scope = Callable[[ClientSession, str], bool]
"""Whether a change of a service's lists (by namespace) may concern a client."""
Watcher = Callable[["str | None", "str | None"], None]
"""Told `(namespace, uri)` when a service's resource changed, `(namespace, None)` when its
resource list did (or it restarted), `(None, None)` when every service may have changed."""


class Notifier:
    """Sends clients what services and the catalog announce."""

    __slots__ = ("calls", "clients", "scope", "spawn", "watchers")

    def __init__(self, clients: Clients, calls: CallTable, spawn: Spawn) -> None:
        self.clients = clients
        self.calls = calls
        self.spawn = spawn
        self.scope: Scope | None = None
        """With profiles: which clients a service's list change concerns (else all)."""
        self.watchers: list[Watcher] = []
        """Told of resource changes (the cache of reads)."""

    def list_changed(self, kinds: Iterable[str], namespace: str | None = None) -> None:
        """Tell every client that wants to know that these lists changed (in the background:
        a slow client must not hold up the catalog); `namespace`: the service whose lists did,
        when only one did."""
        kinds = tuple(kinds)
        if "resources" in kinds:
            for watcher in self.watchers:
                watcher(namespace, None)
        scope = self.scope if namespace is not None else None
        for client in self.clients:
            if scope is not None and namespace is not None and not scope(client, namespace):
                continue
            for kind in kinds:
                self.spawn(self._send_list_changed, client, kind)

    async def _send_list_changed(self, client: ClientSession, kind: str) -> None:
        method = f"notifications/{kind}/list_changed"
        if client.era is Era.HANDSHAKE:
            await client.send_quietly(jsonrpc.notification(method))
            return
        for listen_id, listen in list(client.listens.items()):
            if getattr(listen, kind):
                params = {versions.META: {versions.SUBSCRIPTION_ID_KEY: listen_id}}
                await client.send_quietly(jsonrpc.notification(method, params), listen_id)

    async def progress(self, namespace: str, params: dict[str, Any]) -> None:
        """Pass a service's progress on to the call it belongs to, under the client's token."""
        # The relay sent the upstream request id as the token; anything else matches no call.
        call = self.calls.get(namespace, params.get("progressToken"))
        if call is None or call.progress_token is None:
            return
        forwarded = dict(params)
        forwarded["progressToken"] = call.progress_token
        progress = jsonrpc.notification("notifications/progress", forwarded)
        await call.client.send_quietly(progress, call.request_id)

    async def log_line(
        self, namespace: str, service_era: Era | None, params: dict[str, Any]
    ) -> None:
        """Pass a service's log line on to the clients whose level admits it, under a logger
        named after the service."""
        forwarded = dict(params)
        logger_name = params.get("logger")
        forwarded["logger"] = (
            f"{namespace}.{logger_name}" if isinstance(logger_name, str) else namespace
        )
        rank = log_rank(params.get("level"))
        message = jsonrpc.notification("notifications/message", forwarded)
        targets: dict[ClientSession, RequestId | None] = {}
        if service_era is Era.HANDSHAKE:
            # A handshake-era service logs for its whole session, not for one request: every
            # handshake-era client whose level admits the line gets it.
            targets.update(
                (client, None)
                for client in self.clients
                if client.era is Era.HANDSHAKE and rank >= log_rank(client.log_level)
            )
        for call in self.calls.of_service(namespace):
            # 2026-07-28: log lines belong to the requests that asked for them.
            if call.log_level is not None and rank >= log_rank(call.log_level):
                targets[call.client] = call.request_id
        for client, related in targets.items():
            await client.send_quietly(message, related)

    async def resource_updated(self, namer: Namer, uri: str) -> None:
        """Tell the clients watching a service URI (under its exposed form) that it changed."""
        for watcher in self.watchers:
            watcher(namer.namespace, uri)
        exposed = namer.uri(uri)
        for client in self.clients:
            for listen_id in client.wants_resource(exposed):
                update: dict[str, Any] = {"uri": exposed}
                if listen_id is not None:
                    update[versions.META] = {versions.SUBSCRIPTION_ID_KEY: listen_id}
                updated = jsonrpc.notification("notifications/resources/updated", update)
                await client.send_quietly(updated, listen_id)
