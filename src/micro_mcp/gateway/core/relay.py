"""Forwarding a routed request to the service that owns it, and its result back.

The request leaves with the service's own name or URI, a gateway-unique request id, a mapped
progress token and this hop's `_meta`; the result comes back with URIs renamed to the exposed
form. Nothing else in the payload is touched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from micro_mcp import codes
from micro_mcp.errors import Overloaded, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from micro_mcp.gateway.clients.calls import CallContext
from micro_mcp.gateway.core import input_requests
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol import eras, jsonrpc, versions
from micro_mcp.protocol.versions import Era
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry import tracing
from micro_mcp.upstream.session import UpstreamSession


async def forward_routed(
    mesh: Mesh, ex: Exchange, route: Route, key: str, value: Any
) -> tuple[Service, dict[str, Any]]:
    """`forward` to the service that owns `route`; the service comes back beside the result,
    for renaming what the result names.

    Raises:
        McpError: the service is unknown, unavailable, timed out, or answered with an error.
    """
    service = mesh.service(route.namespace)
    return service, await forward(mesh, ex, route, service, key, value)


async def forward(
    mesh: Mesh, ex: Exchange, route: Route, service: Service, key: str, value: Any
) -> dict[str, Any]:
    """Send the request of `ex` to `service` (the owner of `route`) with `params[key] = value`.

    The client's params are not changed; the copy sent upstream is shallow.

    Raises:
        McpError: the service is unavailable, timed out, or answered with an error.
    """
    client, params, request_id = ex.client, ex.params, ex.correlation
    session = await mesh.session_for(service, client)
    outbound = dict(params)
    outbound[key] = value
    client_meta = jsonrpc.as_object(params.get(versions.META))
    meta = dict(client_meta) if client_meta is not None else {}
    progress_token = None
    if "progressToken" in meta:
        # Tokens are only unique per client; the service sees one unique across the gateway.
        progress_token = meta["progressToken"]
        meta["progressToken"] = request_id
    # 2026-07-28 scopes log lines to the request that asks for them; a handshake-era client
    # asked once, with logging/setLevel, for all of them.
    level = meta.get(versions.LOG_LEVEL_KEY) if client.era is Era.MODERN else client.log_level
    log_level = level if isinstance(level, str) else None
    if log_level is not None:
        meta[versions.LOG_LEVEL_KEY] = log_level
    if meta:
        outbound[versions.META] = meta
    # A 2026-07-28 client's capabilities travel on, so a service may ask it for input; so do
    # a handshake-era client's, since the gateway answers input_required results by asking it.
    capabilities = (
        client.capabilities
        if client.era is Era.MODERN
        else input_requests.answerable_capabilities(client)
    )
    spec = service.spec
    timeout = (
        spec.tool_timeouts.get(route.name, spec.timeout)
        if ex.method == "tools/call"
        else spec.timeout
    )
    call = CallContext(client, ex.request_id, progress_token, log_level)
    async with _slot(service):
        service.breaker.admit()  # inside the slot: a probe is never stranded by an overload
        outcome: bool | None = None  # None: the client cancelled, which says nothing
        mesh.calls.add(route.namespace, request_id, call)
        try:
            result = await _until_complete(ex, route, session, outbound, timeout, capabilities)
            outcome = True
            return result
        except UpstreamError:
            outcome = True  # an error the service sent is still an answer
            raise
        except (UpstreamTimeout, UpstreamUnavailable):
            outcome = False
            raise
        finally:
            mesh.calls.discard(route.namespace, request_id)
            service.breaker.record(outcome)


async def _until_complete(
    ex: Exchange,
    route: Route,
    session: UpstreamSession,
    outbound: dict[str, Any],
    timeout: float,
    capabilities: dict[str, Any],
) -> dict[str, Any]:
    """Call the service, answering its input_required rounds for a handshake-era client.

    Raises:
        McpError: the service failed, or kept asking for input past `MAX_ROUNDS`.
    """
    client = ex.client
    rounds = 0
    while True:
        with tracing.upstream(ex.method, route.namespace, route.name, outbound):
            result = await session.request(
                ex.method,
                outbound,
                timeout=timeout,
                request_id=ex.correlation,
                client_capabilities=capabilities,
            )
        if not eras.needs_input(client.era, result):
            return result
        rounds += 1
        if rounds > input_requests.MAX_ROUNDS:
            raise UpstreamError(
                {
                    "code": codes.INTERNAL_ERROR,
                    "message": f"the service asked for input {rounds - 1} times "
                    "without finishing; the gateway stopped it",
                }
            )
        outbound = await input_requests.answer_round(
            client, ex.request_id, outbound, result, timeout
        )


@asynccontextmanager
async def _slot(service: Service) -> AsyncGenerator[None]:
    """Hold one of the service's call slots; refuse at once when they and the queue are full."""
    slots = service.slots
    if slots.available_tokens == 0:
        if service.queued >= service.spec.max_queued:
            raise Overloaded(
                f"service {service.namespace!r} is overloaded: {slots.total_tokens:g} calls "
                f"running and {service.queued} queued; try again later"
            )
        service.queued += 1
        try:
            await slots.acquire()
        finally:
            service.queued -= 1
    else:
        slots.acquire_nowait()  # the common case: no wait, no event-loop turn
    try:
        yield
    finally:
        slots.release()
