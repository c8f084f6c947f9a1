"""One client request while the gateway handles it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.registry.catalog import Route


@dataclass(slots=True)
class Exchange:
    """A request from a client, from its arrival to its reply."""

    client: ClientSession
    request_id: RequestId
    method: str
    params: dict[str, Any]
    started: float
    correlation: int
    """The id the service sees, and the audit's correlation id."""
    route: Route | None = None
    audited: bool = False
    rate_limit: str | None = None
    """The id of the rate-limit rule that refused the request, for its audit record."""
