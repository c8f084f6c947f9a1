"""Metrics, traces and structured logs: the only modules that import prometheus-client and
OpenTelemetry."""
