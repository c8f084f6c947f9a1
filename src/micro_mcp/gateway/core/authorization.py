"""The policy decision on a routed request, written to the trail as it is taken."""

from __future__ import annotations

from typing import Any, Protocol

from micro_mcp.errors import PolicyDenied, UnknownName
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.policy import engine
from micro_mcp.policy.rules import Call, Kind, RuleSet
from micro_mcp.protocol.jsonrpc import as_object
from micro_mcp.registry.catalog import Route


class Authorizer(Protocol):
    """The dispatcher's policy check of a routed request (see `Dispatcher.authorize`)."""

    def __call__(
        self,
        ex: Exchange,
        route: Route | None,
        unknown: str,
        *,
        kind: Kind = "tools",
        args: Any = None,
        invoked: bool = True,
        audit: bool = True,
    ) -> Route: ...


def authorize(
    trail: Trail,
    ex: Exchange,
    route: Route | None,
    unknown: str,
    *,
    rules: RuleSet | None = None,
    kind: Kind = "tools",
    args: Any = None,
    invoked: bool = True,
    audit: bool = True,
) -> Route:
    """The route, once the client's principal may use it; the decision goes to the trail
    (unless `audit` is off: a listen's URIs are checked, not called).

    With `rules`, the call is checked against them too: a tool or prompt call by its `args`,
    a resource request by its URI (the route's name, in normal form). A request that uses an
    item without invoking it (`invoked` False: a completion, a task follow-up) needs only that
    the rules list the item.

    Raises:
        UnknownName: there is no route (`unknown` says what was asked for).
        PolicyDenied: the principal's policy or the rules do not allow the call.
    """
    if route is None:
        if audit:
            trail.call(ex, None)
        raise UnknownName(unknown)
    principal = ex.client.principal
    assert principal is not None, "the dispatcher authenticates before it routes"
    if rules is None:
        decision = engine.evaluate(principal, route.subject)
    else:
        call = None
        if invoked:
            uri = route.name if kind == "resources" else None
            call = Call(as_object(args), uri)
        decision = engine.evaluate(principal, route.subject, rules, kind, call)
    if audit:
        ex.route = route
        # A plain allow by policy alone says nothing the decision does not; a call with no
        # rules configured writes the same record as before rules existed.
        why = decision if rules is not None or not decision.allowed else None
        trail.call(ex, "allow" if decision.allowed else "deny", why)
    if decision.consent:
        ex.consent_rule = decision.rule
    if not decision.allowed:
        raise PolicyDenied(f"Denied: {route.subject} is not allowed ({decision.reason})")
    return route
