"""One client request while the gateway handles it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from micro_mcp import codes
from micro_mcp.errors import McpError
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
    consented: bool = False
    """The human's consent was obtained (or remembered) for this call."""
    consent_rule: str | None = None
    """The id of the `consent` rule that asks the human before this call, if one does."""

    def string(self, key: str) -> str:
        """The request's string parameter `key`.

        Raises:
            McpError: it is missing or not a string (INVALID_PARAMS).
        """
        value = self.params.get(key)
        if not isinstance(value, str):
            raise McpError(f"params.{key} must be a string", code=codes.INVALID_PARAMS)
        return value
