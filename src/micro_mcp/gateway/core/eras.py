"""The era rules applied to a client connection (the rules themselves: `protocol.eras`)."""

from __future__ import annotations

from typing import Any

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.protocol.eras import dress_result, settle

__all__ = ["dress_result", "settle_era"]


def settle_era(client: ClientSession, method: str, params: dict[str, Any]) -> None:
    """Settle, or hold the client to, the protocol era of its connection.

    As the official SDK does, the first request decides: `initialize` means the handshake
    era; a request carrying the 2026-07-28 `_meta` envelope means 2026-07-28.

    Raises:
        McpError: the request does not fit the connection's era, or lacks its envelope.
    """
    settled = settle(client.era, method, params)
    if settled is not None:
        client.era, client.version = settled.era, settled.version
        client.capabilities = settled.capabilities
        if settled.client_info is not None:
            client.client_info = settled.client_info
