"""Asking a client for input on a service's behalf, across protocol eras.

A handshake-era service asks by sending a request (`sampling/createMessage`, `elicitation/create`,
`roots/list`); a 2026-07-28 service answers with an `input_required` result listing the same
requests, and expects the call again with `inputResponses` and its `requestState`. For a
handshake-era client the gateway turns the second into the first: it sends each listed request to
the client, collects the answers, and calls the service again, round after round, so neither side
learns that the other speaks another era.
"""

from __future__ import annotations

from typing import Any, Final

import anyio

from micro_mcp import codes
from micro_mcp.errors import McpError, UpstreamError, UpstreamUnavailable
from micro_mcp.gateway.client import ClientSession
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.protocol.versions import Era
from micro_mcp.upstream.session import next_id

CLIENT_CAPABILITY: Final = {
    "sampling/createMessage": "sampling",
    "elicitation/create": "elicitation",
    "roots/list": "roots",
}
"""The capability a client declares to take each request a service may send it."""
MAX_ROUNDS: Final = 16
"""input_required rounds answered for one call before the gateway stops a service that keeps
asking."""


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


def answerable_capabilities(client: ClientSession) -> dict[str, Any]:
    """What a handshake-era client can answer, as a 2026-07-28 service wants it declared: the
    gateway asks the client for it whenever the service returns input_required."""
    wanted = set(CLIENT_CAPABILITY.values())
    return {name: value for name, value in client.capabilities.items() if name in wanted}


def needs_input(client: ClientSession, result: dict[str, Any]) -> bool:
    """Whether `result` asks for input the gateway must get from a handshake-era `client`."""
    return client.era is Era.HANDSHAKE and result.get("resultType") == "input_required"


async def ask(
    client: ClientSession, method: str, params: Any, related: RequestId | None, timeout: float
) -> dict[str, Any]:
    """Send `client` one request (one `cannot_ask` admits) and return its result.

    Raises:
        McpError: the client refused it (its own error), did not answer in `timeout` seconds,
            or is gone.
    """
    try:
        with anyio.fail_after(timeout):
            reply = await client.request(next_id(), method, params, related)
    except TimeoutError:
        raise McpError(
            f"the client did not answer {method} within {timeout:g} s", code=codes.UPSTREAM_TIMEOUT
        ) from None
    except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        raise UpstreamUnavailable(f"the client went away before answering {method}") from None
    error = jsonrpc.as_object(reply.get("error"))
    if error is not None:
        raise UpstreamError(error)
    result = jsonrpc.as_object(reply.get("result"))
    return result if result is not None else {}


async def answer_round(
    client: ClientSession,
    related: RequestId,
    params: dict[str, Any],
    result: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    """The params to call the service with again: `params` plus the client's answers to the
    requests in the input_required `result`, and the service's `requestState` echoed.

    Raises:
        McpError: a request is malformed (-32603), the client cannot take it (-32021), or it
            did not answer it.
    """
    requests = jsonrpc.as_object(result.get("inputRequests")) or {}
    responses: dict[str, Any] = {}
    for key, request in requests.items():
        body = jsonrpc.as_object(request)
        method = body.get("method") if body is not None else None
        if body is None or not isinstance(method, str):
            raise McpError(
                f"the service asked for input {key!r} without a method", code=codes.INTERNAL_ERROR
            )
        refusal = cannot_ask(client, method)
        if refusal is not None:
            raise McpError(refusal, code=codes.MISSING_REQUIRED_CLIENT_CAPABILITY)
        responses[key] = await ask(client, method, body.get("params"), related, timeout)
    again = dict(params)
    again["inputResponses"] = responses
    state = result.get("requestState")
    if isinstance(state, str):
        again["requestState"] = state
    else:
        again.pop("requestState", None)
    return again
