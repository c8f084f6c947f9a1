"""What the gateway knows about one connected client."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era

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


@dataclass(eq=False, slots=True)
class ClientSession:
    """One client connection: its era, identity, requests in flight and subscriptions."""

    send_bytes: Callable[[bytes], Awaitable[None]]
    principal: Principal | None
    """Who the client authenticated as; None when it presented no valid token."""
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
    _write_lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def send(self, message: Message) -> None:
        """Write one message to the client; whole messages never interleave."""
        data = jsonrpc.encode(message)
        async with self._write_lock:
            await self.send_bytes(data)

    def wants_resource(self, exposed_uri: str) -> list[RequestId | None]:
        """Where an update of `exposed_uri` goes: listen ids (2026-07-28) or None (handshake)."""
        targets: list[RequestId | None] = [
            lid for lid, listen in self.listens.items() if exposed_uri in listen.uris
        ]
        if exposed_uri in self.subscriptions:
            targets.append(None)
        return targets
