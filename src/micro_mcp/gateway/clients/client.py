"""What the gateway knows about one connected client."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era
from micro_mcp.transport.peer import Peer

logger = logging.getLogger(__name__)

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
"""MCP's log levels (RFC 5424), least severe first."""


def log_rank(level: object) -> int:
    """Position of a level in LOG_LEVELS; unknown levels rank as `info`."""
    return LOG_LEVELS.index(level) if level in LOG_LEVELS else 1


@dataclass(slots=True)
class Listen:
    """A 2026-07-28 `subscriptions/listen` stream the client holds open."""

    tools: bool = False
    prompts: bool = False
    resources: bool = False
    uris: frozenset[str] = frozenset()
    """Exposed resource URIs whose updates the client asked for."""


Outbox = Callable[[Message, "RequestId | None"], Awaitable[None]]
"""Delivers one message to a client. The second argument is the client request the message
belongs to (its response, its progress, its listen stream), or None for the session at large;
on HTTP it picks the response stream, on stdio it does not matter."""


def line_outbox(write: Callable[[bytes], Awaitable[None]]) -> Outbox:
    """An outbox that writes each message as one line; `write` must keep each call's bytes
    whole and in order (as `FdStream.send` does), so no lock is taken on the hot path."""

    async def deliver(message: Message, related: RequestId | None) -> None:
        await write(jsonrpc.encode(message))

    return deliver


@dataclass(eq=False, slots=True)
class ClientSession:
    """One client connection: its era, identity, requests in flight and subscriptions."""

    outbox: Outbox
    principal: Principal | None
    """Who the client authenticated as; None when it presented no valid token."""
    refusal: str | None = field(default=None, kw_only=True)
    """Why a client without a principal is refused (a missing token, or a wrong one)."""
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    era: Era | None = None
    version: str | None = None
    capabilities: dict[str, Any] = field(default_factory=dict[str, Any])
    client_info: dict[str, Any] = field(default_factory=dict[str, Any])
    log_level: str = "info"
    """Handshake era: the least severe level forwarded, set by `logging/setLevel`."""
    in_flight: dict[RequestId, anyio.CancelScope] = field(
        default_factory=dict[RequestId, anyio.CancelScope]
    )
    listens: dict[RequestId, Listen] = field(default_factory=dict[RequestId, Listen])
    subscriptions: set[str] = field(default_factory=set[str])
    """Handshake era: exposed URIs subscribed with `resources/subscribe`."""
    profile: str | None = None
    """The profile the client connected through (`/mcp/p/NAME`, `--profile`); None: `/mcp`."""

    awaiting: Peer = field(default_factory=Peer)
    """Requests the gateway sent the client (relayed from services), by the gateway's id."""
    pause: Callable[[RequestId], None] | None = None
    """Ends the client's response to one of its requests before the reply, for it to poll for
    the rest (SSE polling); None where the channel has no such thing."""

    async def send(self, message: Message, related: RequestId | None = None) -> None:
        """Deliver one message to the client, as part of request `related` if given."""
        await self.outbox(message, related)

    async def send_quietly(self, message: Message, related: RequestId | None = None) -> None:
        """Send a notification to a client that may have gone; then it is dropped."""
        try:
            await self.outbox(message, related)
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            logger.debug("client %s is gone; dropped %s", self.id, message.get("method"))

    async def request(
        self,
        request_id: RequestId,
        method: str,
        params: Any,
        related: RequestId | None,
        timeout: float | None = None,
    ) -> Message | None:
        """Send the client a request and return its whole answer (`result` or `error`), or None
        if the client went away first.

        Raises:
            TimeoutError: no answer within `timeout` seconds (the client is told it was
                cancelled).
        """

        async def send(message: Message) -> None:
            await self.outbox(message, related)

        return await self.awaiting.call(send, jsonrpc.request(request_id, method, params), timeout)

    def resolve(self, reply: Message) -> bool:
        """Hand the client's answer to the request it answers; False if none waits for it."""
        return self.awaiting.resolve(reply)

    def cancel(self, request_id: object) -> None:
        """Cancel the client's request `request_id` if it is in flight (its
        `notifications/cancelled`). Only an id names a request: an unhashable one (a list)
        would raise here and end the client's connection, and `true` would cancel request 1."""
        if jsonrpc.is_request_id(request_id):
            scope = self.in_flight.get(request_id)
            if scope is not None:
                scope.cancel()

    def close(self, reason: str) -> None:
        """The client is gone: every request waiting on it wakes without an answer."""
        self.awaiting.close(reason)

    def wants_resource(self, exposed_uri: str) -> list[RequestId | None]:
        """Where an update of `exposed_uri` goes: listen ids (2026-07-28) or None (handshake)."""
        targets: list[RequestId | None] = [
            lid for lid, listen in self.listens.items() if exposed_uri in listen.uris
        ]
        if exposed_uri in self.subscriptions:
            targets.append(None)
        return targets
