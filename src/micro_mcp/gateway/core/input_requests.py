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

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.clients.outbound import CLIENT_CAPABILITY, ask, cannot_ask
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import RequestId

MAX_ROUNDS: Final = 16
"""input_required rounds answered for one call before the gateway stops a service that keeps
asking."""


def answerable_capabilities(client: ClientSession) -> dict[str, Any]:
    """What a handshake-era client can answer, as a 2026-07-28 service wants it declared: the
    gateway asks the client for it whenever the service returns input_required."""
    wanted = set(CLIENT_CAPABILITY.values())
    return {name: value for name, value in client.capabilities.items() if name in wanted}


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
