"""Requests the gateway sends a client on a service's behalf: sampling, elicitation, roots.

Whether a client can take one (its era and its declared capabilities), and sending it with a
deadline, its answer or refusal turned into the gateway's errors.
"""

from __future__ import annotations

from typing import Any, Final

import anyio

from micro_mcp import codes
from micro_mcp.errors import McpError, UpstreamError, UpstreamUnavailable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import RequestId, next_id
from micro_mcp.protocol.versions import Era

CLIENT_CAPABILITY: Final = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
"""The capability a client declares to take each request a service may send it."""


def cannot_ask(client: ClientSession | None, method: str) -> str | None:
    """Why `method` cannot be sent to `client` as a request, or None when it can."""
    if client is None:
        return f"no single client to relay {method} to"
    if client.era is Era.MODERN:
        return (
            f"the client speaks 2026-07-28, where a server cannot send it {method}; "
            "the service must return an input_required result instead"
        )
    capability = CLIENT_CAPABILITY.get(method)
    if capability is None:
        return f"the gateway does not relay {method!r} to clients"
    if capability not in client.capabilities:
        return f"the client did not declare the {capability!r} capability"
    return None


async def ask(
    client: ClientSession, method: str, params: Any, related: RequestId | None, timeout: float
) -> dict[str, Any]:
    """Send `client` one request (one `cannot_ask` admits) and return its result.

    Raises:
        McpError: the client refused it (its own error), did not answer in `timeout` seconds,
            or is gone.
    """
    try:
        reply = await client.request(next_id(), method, params, related, timeout)
    except TimeoutError:
        raise McpError(
            f"the client did not answer {method} within {timeout:g} s", code=codes.UPSTREAM_TIMEOUT
        ) from None
    except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        raise UpstreamUnavailable(f"the client went away before answering {method}") from None
    if reply is None:
        raise UpstreamUnavailable(f"the client went away before answering {method}")
    error = jsonrpc.as_object(reply.get("error"))
    if error is not None:
        raise UpstreamError(error)
    result = jsonrpc.as_object(reply.get("result"))
    return result if result is not None else {}
