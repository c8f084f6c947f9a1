"""OpenTelemetry traces: a span per client request and per upstream call, W3C context across.

A client's trace context arrives in the request's `_meta` (`traceparent`, `tracestate`, as the
2026-07-28 spec and the SDKs carry it) or, over HTTP, in the `traceparent` header, which the
front copies into `_meta` when `_meta` has none (`adopt_header`). The request span continues
that trace; the upstream call span is its child, and its context replaces the client's in the
`_meta` sent to the service, so the service's own spans join the same trace.

With tracing off (no exporter configured) nothing here runs on the hot path but one context
variable read per upstream call, and the client's `traceparent` reaches the service as it came.

The request span lives in a context variable of the request's own task (each request runs in
a task of its own), so the relay finds its parent without being handed it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, StatusCode, Tracer, set_span_in_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import Span

from micro_mcp import __version__
from micro_mcp.config.telemetry import TelemetrySpec
from micro_mcp.errors import ConfigError, McpError
from micro_mcp.protocol.jsonrpc import as_object

if TYPE_CHECKING:  # the SDK is the `otlp` extra: imported only when tracing is configured
    from opentelemetry.sdk.trace.export import SpanExporter

META: Final = "_meta"
TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
TRACER_NAME: Final = "micro_mcp"

_PROPAGATOR: Final = TraceContextTextMapPropagator()


class _MetaGetter(Getter[Mapping[str, Any]]):
    """Reads trace context from a `_meta` object; only string values count (it is client data)."""

    def get(self, carrier: Mapping[str, Any], key: str) -> list[str] | None:
        value = carrier.get(key)
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Mapping[str, Any]) -> list[str]:
        return list(carrier)


_GETTER: Final = _MetaGetter()


@dataclass(slots=True)
class _Active:
    tracer: Tracer
    span: Span
    correlation: int


_current: ContextVar[_Active | None] = ContextVar("micro_mcp_request_span", default=None)


class Tracing:
    """A tracer provider of the gateway's own (not the process-global one) and its exporter."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        service_name: str = "micro-mcp",
        sample_ratio: float = 1.0,
        batch: bool = True,
    ) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        resource = Resource.create({"service.name": service_name, "service.version": __version__})
        sampler = ParentBased(TraceIdRatioBased(sample_ratio))
        self._provider = TracerProvider(resource=resource, sampler=sampler)
        # Batching exports from a thread of its own; tests want each span as it ends.
        processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
        self._provider.add_span_processor(processor)
        self.tracer = self._provider.get_tracer(TRACER_NAME, __version__)

    @classmethod
    def from_spec(cls, spec: TelemetrySpec) -> Tracing | None:
        """OTLP/HTTP export as configured, or None when no endpoint is set.

        Raises:
            ConfigError: an endpoint is set but the OTLP exporter is not installed.
        """
        if spec.otlp_endpoint is None:
            return None
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError as exc:
            raise ConfigError(
                "telemetry.otlpEndpoint needs the `otlp` extra (the OpenTelemetry SDK and its "
                "OTLP exporter): from the clone, .venv/bin/pip install '.[otlp]'"
            ) from exc
        exporter = OTLPSpanExporter(endpoint=spec.otlp_endpoint, headers=dict(spec.otlp_headers))
        return cls(exporter, service_name=spec.service_name, sample_ratio=spec.sample_ratio)

    def begin(
        self,
        correlation: int,
        name: str,
        meta: object,
        attributes: dict[str, Any],
        started: float,
    ) -> None:
        """Open the span of the request being handled in this task, unless it has one.

        `meta` is the request's `_meta` (the parent's context, if the client sent one);
        `started` is the request's arrival on the `time.perf_counter` clock.
        """
        active = _current.get()
        if active is not None and active.correlation == correlation:
            return
        parent = Context()  # a root span unless the client sent a context: never ambient state
        carrier = as_object(meta)
        if carrier is not None and TRACEPARENT in carrier:
            parent = _PROPAGATOR.extract(carrier, Context(), _GETTER)
        start_ns = time.time_ns() - int((time.perf_counter() - started) * 1e9)
        span = self.tracer.start_span(
            name, parent, SpanKind.SERVER, attributes, start_time=start_ns
        )
        _current.set(_Active(self.tracer, span, correlation))

    def end(self, attributes: dict[str, Any], error: str | None) -> None:
        """Close this task's request span, with an error description if it failed."""
        active = _current.get()
        if active is None:
            return
        _current.set(None)
        span = active.span
        span.set_attributes(attributes)
        if error is not None:
            span.set_status(StatusCode.ERROR, error)
        span.end()

    def shutdown(self) -> None:
        """Export what is left and stop the exporter."""
        self._provider.shutdown()


class _UpstreamSpan:
    """The span of one upstream call; records an error that ends it."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if isinstance(exc, McpError):
            span.set_attributes(
                {"error.type": str(exc.code), "rpc.response.status_code": str(exc.code)}
            )
            span.set_status(StatusCode.ERROR, exc.message)
        elif exc is not None:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR)
        span.end()


class _NoSpan:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN: Final = _NoSpan()


def upstream(
    method: str, service: str, name: str | None, outbound: MutableMapping[str, Any]
) -> _UpstreamSpan | _NoSpan:
    """A span for the call about to be sent, its context put into `outbound["_meta"]`.

    A new `_meta` dict replaces the one in `outbound`, which may still be the client's own.
    Without a request span in this task (tracing off) it does nothing.
    """
    active = _current.get()
    if active is None:
        return _NO_SPAN
    attributes: dict[str, Any] = {"mcp.method.name": method, "micro_mcp.service": service}
    if name is not None and method in ("tools/call", "prompts/get"):
        attributes["gen_ai.tool.name" if method == "tools/call" else "gen_ai.prompt.name"] = name
    span = active.tracer.start_span(
        f"{method} {name}" if name is not None else method,
        set_span_in_context(active.span),
        SpanKind.CLIENT,
        attributes,
    )
    existing = as_object(outbound.get(META))
    meta: dict[str, Any] = dict(existing) if existing is not None else {}
    meta.pop(TRACESTATE, None)  # the client's state belongs to the client's span, not ours
    _PROPAGATOR.inject(meta, set_span_in_context(span))
    outbound[META] = meta
    return _UpstreamSpan(span)


def current_ids() -> tuple[str, str] | None:
    """Trace and span id (hex) of the request span of this task, for logs and exemplars."""
    active = _current.get()
    if active is None:
        return None
    context = active.span.get_span_context()
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def adopt_header(
    message: MutableMapping[str, Any], traceparent: str | None, tracestate: str | None
) -> None:
    """Carry an HTTP `traceparent` header in the request's `_meta`, unless `_meta` has one."""
    if traceparent is None:
        return
    params = as_object(message.setdefault("params", {}))
    if params is None:
        return
    meta = as_object(params.setdefault(META, {}))
    if meta is None or TRACEPARENT in meta:
        return
    meta[TRACEPARENT] = traceparent
    if tracestate is not None:
        meta[TRACESTATE] = tracestate
