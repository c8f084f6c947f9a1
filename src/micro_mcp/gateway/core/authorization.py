"""The policy decision on a routed request, written to the trail as it is taken."""

from __future__ import annotations

from micro_mcp.errors import PolicyDenied, UnknownName
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.policy import engine
from micro_mcp.registry.catalog import Route


def authorize(
    trail: Trail, ex: Exchange, route: Route | None, unknown: str, *, audit: bool = True
) -> Route:
    """The route, once the client's principal may use it; the decision goes to the trail
    (unless `audit` is off: a listen's URIs are checked, not called).

    Raises:
        UnknownName: there is no route (`unknown` says what was asked for).
        PolicyDenied: the principal's policy does not allow the route's subject.
    """
    if route is None:
        if audit:
            trail.call(ex, None)
        raise UnknownName(unknown)
    principal = ex.client.principal
    assert principal is not None, "the dispatcher authenticates before it routes"
    decision = engine.evaluate(principal, route.subject)
    if audit:
        ex.route = route
        trail.call(ex, "allow" if decision.allowed else "deny")
    if not decision.allowed:
        raise PolicyDenied(f"Denied: {route.subject} is not allowed ({decision.reason})")
    return route
