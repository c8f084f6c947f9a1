"""Resource subscriptions and 2026-07-28 listens: what a client asks to hear about.

A handshake-era client subscribes to a resource with `resources/subscribe` (kept on its
session until it unsubscribes); a 2026-07-28 client holds a `subscriptions/listen` request open
for list changes and resource updates, which ends when it cancels the request. Either way the
service is told to send updates for the resource while any client wants them, and the client is
matched against updates by the resource's exposed URI (in normal form, as updates name it).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

import anyio

from micro_mcp import codes
from micro_mcp.errors import McpError, Unauthenticated
from micro_mcp.gateway.clients.client import Listen
from micro_mcp.gateway.core.authorization import Authorizer
from micro_mcp.gateway.core.eras import settle_era
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.registry.catalog import Route

_LISTEN_KINDS: Final = ("toolsListChanged", "promptsListChanged", "resourcesListChanged")


class Listening:
    """Subscriptions and listens of the gateway's clients, kept with the mesh's services."""

    def __init__(self, mesh: Mesh, trail: Trail, authorize: Authorizer) -> None:
        self.mesh = mesh
        self.trail = trail
        self.authorize = authorize

    async def subscribe(self, ex: Exchange, uri: str) -> dict[str, Any]:
        """`resources/subscribe` or `resources/unsubscribe` of `uri`."""
        route = self.authorize(
            ex, self.mesh.catalog.resource(uri), f"Unknown resource: {uri}", kind="resources"
        )
        add = ex.method == "resources/subscribe"
        subscriptions = ex.client.subscriptions
        uri = self.exposed(route)  # the form the service's updates come back in
        if add == (uri in subscriptions):
            return {}
        if add:  # counted only once the service took it, so a refused one can be retried
            await self.mesh.subscribe(route.namespace, route.name, True)
            subscriptions.add(uri)
        else:  # gone at once: updates for it stop here even if the service fails to hear
            subscriptions.discard(uri)
            await self.mesh.subscribe(route.namespace, route.name, False)
        return {}

    async def listen(self, ex: Exchange) -> None:
        """Hold a 2026-07-28 `subscriptions/listen` open until the client cancels it."""
        settle_era(ex.client, ex.method, ex.params)
        if ex.client.principal is None:
            raise Unauthenticated("Unauthenticated: the gateway requires a token")
        wanted = jsonrpc.as_object(ex.params.get("notifications"))
        if wanted is None:
            raise McpError("subscriptions/listen needs 'notifications'", code=codes.INVALID_PARAMS)
        self.trail.call(ex, "allow")
        await self.mesh.started.wait()
        uris = wanted.get("resourceSubscriptions")
        routes = {
            uri: self.authorize(
                ex, self.mesh.catalog.resource(uri), uri, kind="resources", audit=False
            )
            for uri in jsonrpc.as_array(uris) or []
            if isinstance(uri, str)
        }
        listen = Listen(
            tools=wanted.get("toolsListChanged") is True,
            prompts=wanted.get("promptsListChanged") is True,
            resources=wanted.get("resourcesListChanged") is True,
            uris=frozenset(self.exposed(route) for route in routes.values()),
        )
        ack: dict[str, Any] = {key: True for key in _LISTEN_KINDS if wanted.get(key) is True}
        if routes:
            ack["resourceSubscriptions"] = list(routes)
        subscribed: list[Route] = []
        try:
            for route in routes.values():
                await self.mesh.subscribe(route.namespace, route.name, True)
                subscribed.append(route)
            ex.client.listens[ex.request_id] = listen
            meta = {versions.META: {versions.SUBSCRIPTION_ID_KEY: ex.request_id}}
            acknowledged = "notifications/subscriptions/acknowledged"
            ack_message = jsonrpc.notification(acknowledged, {**meta, "notifications": ack})
            await ex.client.send(ack_message, ex.request_id)
            await anyio.sleep_forever()
        finally:
            ex.client.listens.pop(ex.request_id, None)
            with anyio.CancelScope(shield=True):
                for route in subscribed:
                    with contextlib.suppress(McpError):  # a service that is gone forgot it anyway
                        await self.mesh.subscribe(route.namespace, route.name, False)

    def exposed(self, route: Route) -> str:
        """The exposed form of a resource route's URI (normal form, as updates name it)."""
        namer = self.mesh.catalog.namers.get(route.namespace)
        return namer.uri(route.name) if namer is not None else route.name
