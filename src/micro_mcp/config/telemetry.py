"""The `telemetry` section of the gateway config: traces, logs, metrics, the operator's view."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TelemetrySpec(BaseModel):
    """Where traces go, how logs look, where metrics are served, who may see the admin view."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    otlp_endpoint: str | None = Field(default=None, alias="otlpEndpoint")
    """OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`). Unset: no tracing at all,
    and a client's `traceparent` passes through to the service unchanged."""
    otlp_headers: dict[str, str] = Field(default_factory=dict, alias="otlpHeaders")
    """Headers sent with every export (a collector's API key)."""
    service_name: str = Field(default="micro-mcp", min_length=1, alias="serviceName")
    """The OpenTelemetry `service.name` of the gateway's spans."""
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0, alias="sampleRatio")
    """Share of new traces recorded; a client's sampled flag is followed when it sends one."""
    log_format: Literal["text", "json"] = Field(default="text", alias="logFormat")
    """The gateway's own log on stderr; `--log-format` overrides it."""
    metrics_port: int | None = Field(default=None, ge=0, le=65535, alias="metricsPort")
    """With the stdio transport: serve `/metrics` on 127.0.0.1 at this port (0: any free
    port, logged); `--metrics-port` overrides it. The HTTP transport serves `/metrics` itself."""
    operator_token: str | None = Field(default=None, min_length=16, alias="operatorToken")
    """Bearer token for `/metrics`, `/admin/status` and `/admin`. Unset: those are served only
    when the gateway listens on loopback."""
