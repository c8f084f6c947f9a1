"""What services send on their own: progress, log lines, list changes, resource updates, and
requests for the client (sampling, elicitation, roots). Each goes to the client it concerns."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.client import ClientSession, log_rank
from micro_mcp.gateway.clients.outbound import ask, cannot_ask
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era
from micro_mcp.upstream.session import UpstreamSession

if TYPE_CHECKING:
    from micro_mcp.gateway.services.mesh import CallContext, Mesh, Service

logger = logging.getLogger(__name__)

LIST_CHANGED: Final = {
    "notifications/tools/list_changed": "tools",
    "notifications/prompts/list_changed": "prompts",
    "notifications/resources/list_changed": "resources",
}


class ServiceMessages:
    """The mesh's handler for messages its services start (the upstream `SessionHandler`)."""

    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh

    async def on_notification(self, session: UpstreamSession, message: Message) -> None:
        """Route a service's notification to the clients it concerns."""
        method = message["method"]
        params: dict[str, Any] = message.get("params") or {}  # decode() allows only an object
        service = self.mesh.services.get(session.namespace)
        if service is None:  # a reload removed it while it was still talking
            return
        if method == "notifications/progress":
            token = params.get("progressToken")
            # The relay sent a request id as the token. Anything else matches no call, and an
            # unhashable one (a list) would raise here and take the gateway down with it.
            call = (
                self.mesh.calls.get((session.namespace, token))
                if jsonrpc.is_request_id(token)
                else None
            )
            if call is not None and call.progress_token is not None:
                forwarded = dict(params)
                forwarded["progressToken"] = call.progress_token
                progress = jsonrpc.notification(method, forwarded)
                await call.client.send_quietly(progress, call.request_id)
        elif method == "notifications/message":
            await self._forward_log(service, params)
        elif method in LIST_CHANGED:
            if self.mesh.tasks is not None:
                self.mesh.tasks.start_soon(self.mesh.refresh, service, LIST_CHANGED[method])
        elif method == "notifications/resources/updated":
            await self._forward_update(service, params)
        elif method == "notifications/cancelled":
            logger.debug(
                "service %s cancelled its request %r", session.namespace, params.get("requestId")
            )

    async def on_request(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        """Answer `ping` here; relay anything else to the client whose call caused it."""
        if message["method"] == "ping":
            await session.respond(message["id"], {"result": {}})
        elif self.mesh.tasks is not None:
            # Waiting for the client here would block the reader that must deliver its answer.
            self.mesh.tasks.start_soon(self._ask_client, session, message, related)

    async def _ask_client(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        method: str = message["method"]
        call = self._call_behind(session.namespace, related)
        client = call.client if call is not None else self._sole_client()
        refusal = cannot_ask(client, method)
        if refusal is not None or client is None:
            error = {"code": codes.METHOD_NOT_FOUND, "message": refusal or "no client to ask"}
            await session.respond(message["id"], {"error": error})
            return
        service = self.mesh.services.get(session.namespace)
        if service is None:  # a reload removed it; its process is on its way out
            error = {"code": codes.INTERNAL_ERROR, "message": "the service is being removed"}
            await session.respond(message["id"], {"error": error})
            return
        related_id = call.request_id if call is not None else None
        params = message.get("params")
        try:
            result = await ask(client, method, params, related_id, service.spec.timeout)
        except McpError as exc:
            await session.respond(message["id"], {"error": exc.to_error()})
            return
        await session.respond(message["id"], {"result": result})

    def _call_behind(self, namespace: str, related: RequestId | None) -> CallContext | None:
        """The call a service's request belongs to: the one named, else the only client's last."""
        if related is not None:
            return self.mesh.calls.get((namespace, related))
        calls = [call for (ns, _), call in self.mesh.calls.items() if ns == namespace]
        if calls and all(call.client is calls[0].client for call in calls):
            return calls[-1]
        return None

    def _sole_client(self) -> ClientSession | None:
        return next(iter(self.mesh.clients)) if len(self.mesh.clients) == 1 else None

    async def _forward_log(self, service: Service, params: dict[str, Any]) -> None:
        forwarded = dict(params)
        logger_name = params.get("logger")
        forwarded["logger"] = (
            f"{service.namespace}.{logger_name}"
            if isinstance(logger_name, str)
            else service.namespace
        )
        rank = log_rank(params.get("level"))
        message = jsonrpc.notification("notifications/message", forwarded)
        targets: dict[ClientSession, RequestId | None] = {}
        session = service.session
        if session is not None and session.era is Era.HANDSHAKE:
            # A handshake-era service logs for its whole session, not for one request: every
            # handshake-era client whose level admits the line gets it.
            targets.update(
                (client, None)
                for client in self.mesh.clients
                if client.era is Era.HANDSHAKE and rank >= log_rank(client.log_level)
            )
        for (namespace, _), call in list(self.mesh.calls.items()):
            # 2026-07-28: log lines belong to the requests that asked for them.
            if (
                namespace == service.namespace
                and call.log_level is not None
                and rank >= log_rank(call.log_level)
            ):
                targets[call.client] = call.request_id
        for client, related in targets.items():
            await client.send_quietly(message, related)

    async def _forward_update(self, service: Service, params: dict[str, Any]) -> None:
        uri = params.get("uri")
        if not isinstance(uri, str):
            return
        exposed = service.namer.uri(uri)
        for client in list(self.mesh.clients):
            for listen_id in client.wants_resource(exposed):
                update: dict[str, Any] = {"uri": exposed}
                if listen_id is not None:
                    update[versions.META] = {versions.SUBSCRIPTION_ID_KEY: listen_id}
                updated = jsonrpc.notification("notifications/resources/updated", update)
                await client.send_quietly(updated, listen_id)
