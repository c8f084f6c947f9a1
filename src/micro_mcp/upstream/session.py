"""An MCP client session to one service, over any channel that carries whole messages.

The session owns the request ids it sends: every id comes from one gateway-wide counter, so an id
names one upstream request across the whole gateway (the audit trail's correlation id). Payloads
are forwarded as parsed, never re-modelled; only the `_meta` keys that belong to this hop change.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

from micro_mcp import codes
from micro_mcp.errors import McpError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.eras import GATEWAY_INFO
from micro_mcp.protocol.jsonrpc import Message, RequestId, next_id
from micro_mcp.protocol.versions import Era
from micro_mcp.transport.peer import Peer

logger = logging.getLogger(__name__)

RELAYED_CAPABILITIES: Final[dict[str, Any]] = {
    "sampling": {},
    "elicitation": {"form": {}, "url": {}},
    "roots": {},
}
"""What the gateway offers a handshake-era service: it relays these requests to the client
whose call caused them, and answers with a clear error when that client cannot take them."""
PROBE_TIMEOUT: Final = 5.0
"""Seconds to wait for a `server/discover` answer before trying `initialize`: a handshake-era
server may ignore an unknown request sent before its handshake instead of answering it."""


class SessionHandler(Protocol):
    """What a session does with messages its service starts."""

    async def on_notification(self, session: UpstreamSession, message: Message) -> None:
        """A notification from the service; must not wait on a reply from the same service."""
        ...

    async def on_request(
        self, session: UpstreamSession, message: Message, related: RequestId | None
    ) -> None:
        """A request from the service; it must be answered with `session.respond`.

        `related` is the gateway's request the service sent it under, when the channel tells
        (an HTTP response stream does; a stdio pipe does not). It must not wait for the answer
        in the caller's task: the reader that called it is what delivers the answer.
        """
        ...

    def on_stream_paused(self, session: UpstreamSession, request_id: RequestId) -> None:
        """The service closed the response stream of request `request_id` before its reply,
        to be polled for the rest (SSE polling, 2025-11-25); the reply is still owed."""
        ...


class UpstreamSession:
    """Requests to, and messages from, one service."""

    def __init__(
        self, namespace: str, send: Callable[[Message], Awaitable[None]], handler: SessionHandler
    ) -> None:
        self.namespace = namespace
        self._send = send
        self._handler = handler
        self._peer = Peer()
        self._listens: set[RequestId] = set()
        self.era = Era.HANDSHAKE
        self.version = versions.LATEST_HANDSHAKE
        self.capabilities: dict[str, Any] = {}
        self.server_info: dict[str, Any] = {}
        self.instructions: str | None = None
        self.owner: object | None = None
        """The one client this session serves, when it serves only one (`per-client`)."""
        self.opened_at = time.monotonic()
        """When the session was opened (`time.monotonic`): a service's uptime, for operators."""

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._peer)

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        timeout: float,
        request_id: int | None = None,
        client_capabilities: dict[str, Any] | None = None,
        envelope: bool | None = None,
    ) -> dict[str, Any]:
        """Send a request and return its result; `params` becomes the session's to change.

        `client_capabilities` is what the 2026-07-28 envelope declares on the client's behalf;
        `envelope` forces that envelope on or off (the era decides when None).

        On timeout or cancellation the service is told with `notifications/cancelled`.

        Raises:
            UpstreamError: the service answered with an error.
            UpstreamTimeout: no answer within `timeout` seconds.
            UpstreamUnavailable: the connection is closed or broke while waiting.
        """
        if self._peer.closed is not None:
            raise UpstreamUnavailable(
                f"service {self.namespace!r} is unavailable: {self._peer.closed}"
            )
        rid = next_id() if request_id is None else request_id
        stamped = self._stamp(params, client_capabilities, envelope)
        try:
            reply = await self._peer.call(
                self._send, jsonrpc.request(rid, method, stamped), timeout
            )
        except TimeoutError:
            raise UpstreamTimeout(
                f"service {self.namespace!r} did not answer {method} within {timeout:g} s"
            ) from None
        if reply is None:
            raise UpstreamUnavailable(
                f"service {self.namespace!r} is unavailable: {self._peer.closed}"
            )
        if "error" in reply:
            error = reply["error"]
            error_object = jsonrpc.as_object(error)
            raise UpstreamError(
                error_object
                if error_object is not None
                else {"code": codes.INTERNAL_ERROR, "message": str(error)}
            )
        return _dict(reply.get("result"))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification."""
        if self._peer.closed is None:
            await self._send(jsonrpc.notification(method, params))

    async def respond(self, request_id: RequestId, message: Message) -> None:
        """Answer a request the service sent; `message` holds `result` or `error`."""
        message["jsonrpc"] = jsonrpc.VERSION
        message["id"] = request_id
        if self._peer.closed is None:
            await self._send(message)

    async def receive(self, message: Message, related: RequestId | None = None) -> None:
        """Take one message read from the service (on the stream of request `related`)."""
        if "method" in message:
            if "id" in message:
                await self._handler.on_request(self, message, related)
            else:
                await self._handler.on_notification(self, message)
            return
        reply_id = message.get("id")
        if reply_id in self._listens:
            # A listen stream ended from the service's side; the mesh re-listens on restart.
            self._listens.discard(reply_id)
            logger.info("service %s ended subscription %r", self.namespace, reply_id)
            return
        # decode() let through a null id only on an error about a request it could not read.
        if not self._peer.resolve(message):
            logger.debug(
                "service %s answered unknown request id %r", self.namespace, message.get("id")
            )

    async def listen(self, notifications: dict[str, Any]) -> RequestId:
        """Open a 2026-07-28 `subscriptions/listen` stream; it stays open until `unlisten`."""
        rid = next_id()
        self._listens.add(rid)
        params = self._stamp({"notifications": notifications}, None, True)
        await self._send(jsonrpc.request(rid, "subscriptions/listen", params))
        return rid

    async def unlisten(self, listen_id: RequestId) -> None:
        """Close a listen stream opened with `listen`."""
        self._listens.discard(listen_id)
        await self.notify("notifications/cancelled", {"requestId": listen_id})

    def waiting(self, request_id: RequestId) -> bool:
        """Whether a request sent on this session still waits for its reply."""
        return self._peer.waiting(request_id)

    def paused(self, request_id: RequestId) -> None:
        """The channel says the service ended request `request_id`'s stream early, to resume it."""
        self._handler.on_stream_paused(self, request_id)

    def fail(self, request_id: RequestId, error: dict[str, Any]) -> None:
        """Answer a waiting request with `error` on the service's behalf (its channel broke)."""
        self._peer.fail(request_id, error)

    def close(self, reason: str) -> None:
        """Mark the connection gone and fail every request waiting on it."""
        self._peer.close(reason)

    async def handshake(self, protocol: str, timeout: float) -> None:
        """Agree on a protocol era and version with the service.

        `auto` probes `server/discover` (2026-07-28) and falls back to `initialize`.

        Raises:
            McpError: the service refused both, or does not speak the pinned era.
        """
        if protocol in ("auto", "modern"):
            try:
                result = await self.request(
                    "server/discover",
                    {},
                    timeout=min(PROBE_TIMEOUT, timeout) if protocol == "auto" else timeout,
                    envelope=True,
                )
            except (UpstreamError, UpstreamTimeout):
                if protocol == "modern":
                    raise
            else:
                supported = result.get("supportedVersions")
                if isinstance(supported, list) and versions.LATEST_MODERN in supported:
                    self._adopt_modern(result)
                    return
                if protocol == "modern":
                    raise McpError(f"service {self.namespace!r} does not offer 2026-07-28")
        result = await self.request(
            "initialize",
            {
                "protocolVersion": versions.LATEST_HANDSHAKE,
                "capabilities": RELAYED_CAPABILITIES,
                "clientInfo": dict(GATEWAY_INFO),
            },
            timeout=timeout,
        )
        version = result.get("protocolVersion")
        if version not in versions.HANDSHAKE_VERSIONS:
            raise McpError(
                f"service {self.namespace!r} answered unknown protocol version {version!r}"
            )
        self.era, self.version = Era.HANDSHAKE, str(version)
        self.capabilities = _dict(result.get("capabilities"))
        self.server_info = _dict(result.get("serverInfo"))
        self.instructions = (
            result.get("instructions") if isinstance(result.get("instructions"), str) else None
        )
        await self.notify("notifications/initialized")

    def _adopt_modern(self, result: dict[str, Any]) -> None:
        self.era, self.version = Era.MODERN, versions.LATEST_MODERN
        self.capabilities = _dict(result.get("capabilities"))
        self.server_info = _dict(_dict(result.get(versions.META)).get(versions.SERVER_INFO_KEY))
        self.instructions = (
            result.get("instructions") if isinstance(result.get("instructions"), str) else None
        )

    def _stamp(
        self,
        params: dict[str, Any] | None,
        client_capabilities: dict[str, Any] | None,
        envelope: bool | None,
    ) -> dict[str, Any] | None:
        """Give `params` this hop's reserved `_meta` keys: 2026-07-28 requires them on every
        request, and the client's own (its version, its identity) must not leak through."""
        modern = self.era is Era.MODERN if envelope is None else envelope
        meta = jsonrpc.as_object(params.get(versions.META)) if params is not None else None
        if meta is not None and any(k.startswith(versions.RESERVED_PREFIX) for k in meta):
            # The client's log level means the same to a 2026-07-28 service; the rest is per hop.
            kept = versions.LOG_LEVEL_KEY if modern else None
            meta = {
                k: v
                for k, v in meta.items()
                if k == kept or not k.startswith(versions.RESERVED_PREFIX)
            }
        if modern:
            meta = dict(meta) if meta is not None else {}
            meta[versions.PROTOCOL_VERSION_KEY] = versions.LATEST_MODERN
            meta[versions.CLIENT_INFO_KEY] = GATEWAY_INFO
            meta[versions.CLIENT_CAPABILITIES_KEY] = client_capabilities or {}
        if meta is None or (params is not None and meta is params.get(versions.META)):
            return params
        params = {} if params is None else params
        if meta:
            params[versions.META] = meta
        else:
            params.pop(versions.META, None)
        return params


def _dict(value: object) -> dict[str, Any]:
    found = jsonrpc.as_object(value)
    return found if found is not None else {}
