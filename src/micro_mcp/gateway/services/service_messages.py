"""What services send on their own: progress, log lines, list changes, resource updates, and
requests for the client (sampling, elicitation, roots). Each goes to the client it concerns."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.calls import CallTable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.clients.outbound import ask, cannot_ask
from micro_mcp.gateway.clients.registry import Clients
from micro_mcp.gateway.services.notifications import Notifier, Spawn
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.upstream.session import UpstreamSession

logger = logging.getLogger(__name__)

LIST_CHANGED: Final = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resources",
}

ServiceLookup = Callable[[str], "Service | None"]
"""The service of a namespace now, or None once a reload removed it."""
ListChanged = Callable[[Service, str], Any]
"""What to run (in the background) when a service says one of its lists changed."""


class ServiceMessages:
    """The mesh's handler for messages its services start (the upstream `SessionHandler`)."""

    __slots__ = ("calls", "clients", "lookup", "notifier", "on_list_changed", "spawn")

    def __init__(
        self,
        lookup: ServiceLookup,
        clients: Clients,
        calls: CallTable,
        notifier: Notifier,
        on_list_changed: ListChanged,
        spawn: Spawn,
    ) -> None:
        self.lookup = lookup
        self.clients = clients
        self.calls = calls
        self.notifier = notifier
        self.on_list_changed = on_list_changed
        self.spawn = spawn

    async def on_notification(self, session: UpstreamSession, message: Message) -> None:
        """Route a service's notification to the clients it concerns."""
        method = message["method"]
        params: dict[str, Any] = message.get("params") or {}  # decode() allows only an object
        service = self.lookup(session.namespace)
        if service is None:  # a reload removed it while it was still talking
            return
        if method == "notifications/progress":
            await self.notifier.progress(service.namespace, params)
        elif method == "notifications/message":
            era = service.session.era if service.session is not None else None
            await self.notifier.log_line(service.namespace, era, params)
        elif method in LIST_CHANGED:
            self.spawn(self.on_list_changed, service, LIST_CHANGED[method])
        elif method == "notifications/resources/updated":
            uri = params.get("uri")
            if isinstance(uri, str):
                await self.notifier.resource_updated(service.namer, uri)
        elif method == "notifications/cancelled":
            logger.debug(
                "service %s cancelled its request %r", session.namespace, params.get("requestId")
            )

    def on_stream_paused(self, session: UpstreamSession, request_id: RequestId) -> None:
        """Pass a service's pause on: the client's own response ends early too, where its
        channel lets it resume, so it polls as it would the service alone."""
        call = self.calls.get(session.namespace, request_id)
        if call is not None and call.client.pause is not None:
            call.client.pause(call.request_id)

    async def on_request(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        """Answer `ping` here; relay anything else to the client whose call caused it."""
        if message["method"] == "ping":
            await session.respond(message["id"], {"result": {}})
        else:
            # Waiting for the client here would block the reader that must deliver its answer.
            self.spawn(self._ask_client, session, message, related)

    async def _ask_client(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        method: str = message["method"]
        owner = session.owner if isinstance(session.owner, ClientSession) else None
        call = self.calls.behind(session.namespace, related, owner)
        client = owner or (call.client if call is not None else self.clients.sole())
        refusal = cannot_ask(client, method)
        if refusal is not None or client is None:
            error = {"code": codes.METHOD_NOT_FOUND, "message": refusal or "no client to ask"}
            await session.respond(message["id"], {"error": error})
            return
        service = self.lookup(session.namespace)
        if service is None:  # a reload removed it; its process is on its way out
            error = {"code": codes.INTERNAL_ERROR, "message": "the service is being removed"}
            await session.respond(message["id"], {"error": error})
            return
        related_id = call.request_id if call is not None else None
        try:
            result = await ask(
                client, method, message.get("params"), related_id, service.spec.timeout
            )
        except McpError as exc:
            await session.respond(message["id"], {"error": exc.to_error()})
            return
        await session.respond(message["id"], {"result": result})
