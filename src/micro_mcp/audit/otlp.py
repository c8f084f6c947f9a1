"""The OTLP logs sink: each sealed line as an OpenTelemetry log record, batched to a collector.
It imports the OTel SDK itself (not through telemetry/): it is an audit sink whose transport
happens to be OTLP, and the trail's records must not depend on the tracing settings."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

from micro_mcp.audit.chain import Chain
from micro_mcp.audit.events import AuditEvent
from micro_mcp.config.telemetry import TelemetrySpec
from micro_mcp.errors import ConfigError

LOGGER_NAME = "micro_mcp.audit"


class OtlpSink:
    """Exports each event, sealed into a chain of this process's own (it starts at seq 0 each
    run: a collector has no last line to resume from), as a log record whose body is the line.
    Export runs in the SDK's thread; a collector that is down loses records there, so this sink
    is a copy for search and alerting, and the file stays the trail of record."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        key: bytes | None = None,
        service_name: str = "micro-mcp",
        batch: bool = True,
    ) -> None:
        self.chain = Chain(key=key)
        self._provider = LoggerProvider(resource=Resource.create({"service.name": service_name}))
        processor = (
            BatchLogRecordProcessor(exporter) if batch else SimpleLogRecordProcessor(exporter)
        )
        self._provider.add_log_record_processor(processor)
        self._logger = self._provider.get_logger(LOGGER_NAME)

    @classmethod
    def from_spec(cls, spec: TelemetrySpec, *, key: bytes | None) -> OtlpSink:
        """Export to the collector of `telemetry.otlpEndpoint`, at `/v1/logs`.

        Raises:
            ConfigError: no endpoint is configured, or the exporter is not installed.
        """
        if spec.otlp_endpoint is None:
            raise ConfigError("audit.otlp needs telemetry.otlpEndpoint (the collector)")
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        except ImportError as exc:
            raise ConfigError(
                "audit.otlp needs the OTLP exporter: from the clone, "
                ".venv/bin/pip install '.[otlp]'"
            ) from exc
        endpoint = spec.otlp_endpoint.removesuffix("/v1/traces").rstrip("/") + "/v1/logs"
        exporter = OTLPLogExporter(endpoint=endpoint, headers=dict(spec.otlp_headers))
        return cls(exporter, key=key, service_name=spec.service_name)

    def emit(self, event: AuditEvent) -> None:
        """Seal the event and hand it to the exporter."""
        line = self.chain.seal(event.to_json()[:-1])
        attributes: dict[str, Any] = {
            "audit.seq": self.chain.seq - 1,
            "audit.event": event.event,
            "audit.principal": event.principal,
        }
        self._logger.emit(
            LogRecord(
                timestamp=int(event.time * 1e9),
                observed_timestamp=time.time_ns(),
                body=line.decode().rstrip("\n"),
                attributes=attributes,
                event_name="micro_mcp.audit." + event.event,
            )
        )

    async def settle(self) -> None:
        """Export is in the background: nothing to wait for."""

    def close(self) -> None:
        """Export what is queued and stop."""
        self._provider.shutdown()
