"""What the dispatcher reports of each request, turned into metrics and a span.

The dispatcher calls `on_call` when it has decided about a request (routed or refused) and
`on_reply` when it answers; these are the same two points where it writes the audit trail.
This module reads the exchange through the small protocols below, so telemetry never imports
the gateway.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from micro_mcp.config.telemetry import TelemetrySpec
from micro_mcp.telemetry import tracing
from micro_mcp.telemetry.metrics import (
    NAMED_METHODS,
    NO_SERVICE,
    UNKNOWN_NAME,
    Metrics,
    method_label,
)
from micro_mcp.telemetry.tracing import Tracing


class RouteView(Protocol):
    """Where a request was routed."""

    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...


class ClientView(Protocol):
    """Who sent a request."""

    @property
    def id(self) -> str: ...
    @property
    def version(self) -> str | None: ...


class RequestView(Protocol):
    """One request while the gateway handles it (the dispatcher's `Exchange`)."""

    @property
    def method(self) -> str: ...
    @property
    def params(self) -> dict[str, Any]: ...
    @property
    def started(self) -> float: ...
    @property
    def correlation(self) -> int: ...
    @property
    def route(self) -> RouteView | None: ...
    @property
    def client(self) -> ClientView: ...


class Recorder:
    """The gateway's metrics, and its tracing when configured."""

    def __init__(self, metrics: Metrics | None = None, tracing: Tracing | None = None) -> None:
        self.metrics = metrics if metrics is not None else Metrics()
        self.tracing = tracing
        self.started_at = time.time()

    @classmethod
    def from_spec(cls, spec: TelemetrySpec) -> Recorder:
        """Metrics always; tracing when the config names an OTLP endpoint.

        Raises:
            ConfigError: tracing is configured but cannot be set up.
        """
        return cls(Metrics(), Tracing.from_spec(spec))

    def on_call(self, ex: RequestView, decision: str | None, principal: str) -> None:
        """The request was decided: allowed, denied, or neither (unknown method or name)."""
        route = ex.route
        if decision == "deny":
            service = route.namespace if route is not None else NO_SERVICE
            self.metrics.denial(principal, service, _tool(ex.method, route))
        if self.tracing is not None:
            attributes: dict[str, Any] = {
                "mcp.method.name": ex.method,
                "jsonrpc.request.id": str(ex.correlation),
                "mcp.session.id": ex.client.id,
                "micro_mcp.principal": principal,
            }
            if ex.client.version is not None:
                attributes["mcp.protocol.version"] = ex.client.version
            name = ex.method
            if route is not None:
                attributes["micro_mcp.service"] = route.namespace
                if ex.method in NAMED_METHODS:
                    target = ex.params.get("name")
                    key = "gen_ai.tool.name" if ex.method == "tools/call" else "gen_ai.prompt.name"
                    attributes[key] = target
                    name = f"{ex.method} {target}"
            if decision is not None:
                attributes["micro_mcp.decision"] = decision
            self.tracing.begin(ex.correlation, name, ex.params.get("_meta"), attributes, ex.started)

    def on_reply(self, ex: RequestView, outcome: str, code: int | None, seconds: float) -> None:
        """The request was answered (or cancelled) after `seconds`."""
        route = ex.route
        service = route.namespace if route is not None else NO_SERVICE
        exemplar = None
        if self.tracing is not None:
            ids = tracing.current_ids()
            if ids is not None:
                exemplar = {"trace_id": ids[0]}
            attributes: dict[str, Any] = {"micro_mcp.outcome": outcome}
            error = None
            if code is not None:
                attributes["error.type"] = attributes["rpc.response.status_code"] = str(code)
                error = f"JSON-RPC error {code}"
            elif outcome == "tool_error":
                attributes["error.type"] = "tool_error"
                error = "the tool reported an error"
            self.tracing.end(attributes, error)
        self.metrics.request(
            service,
            _tool(ex.method, route),
            method_label(ex.method),
            outcome,
            code,
            seconds,
            exemplar,
        )

    def on_rate_limited(self, rule: str, service: str) -> None:
        """A call was refused by the rate-limit rule `rule` (an id from the config)."""
        self.metrics.rate_limited(rule, service)

    def on_rate_limit_store_error(self, failure_mode: str) -> None:
        """A call's limits could not be counted: the store was unreachable."""
        self.metrics.rate_limit_store_error(failure_mode)

    def on_audit_failure(self, failure_mode: str) -> None:
        """A record could not be written to the audit trail."""
        self.metrics.audit_failure(failure_mode)

    def close(self) -> None:
        """Flush and stop the trace exporter, if any."""
        if self.tracing is not None:
            self.tracing.shutdown()


def _tool(method: str, route: RouteView | None) -> str:
    """The `tool` label: the catalog's name for tools and prompts, never a client's string."""
    if method not in NAMED_METHODS:
        return ""
    return route.name if route is not None else UNKNOWN_NAME
