"""The audit trail a config asks for: its key, its sinks, and the breaker over them."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping

from micro_mcp.audit.breaker import Breaker
from micro_mcp.audit.jsonl import JsonlSink
from micro_mcp.audit.keys import AuditKeys, from_key, load_key
from micro_mcp.audit.sinks import AuditSink
from micro_mcp.audit.sqlite import SqliteSink
from micro_mcp.config.model import AuditSpec, TelemetrySpec
from micro_mcp.errors import ConfigError


def open_trail(
    spec: AuditSpec,
    telemetry: TelemetrySpec,
    environ: Mapping[str, str] = os.environ,
    on_failure: Callable[[str], None] | None = None,
) -> tuple[Breaker, AuditKeys]:
    """The configured sinks behind a breaker, and the keys for records and argument digests.

    Raises:
        ConfigError: the key is unusable, the file is no audit trail, the SQLite database
            cannot be opened, or OTLP is asked for without an endpoint or the `otlp` extra.
    """
    keys = from_key(load_key(spec.key_env, spec.key_file, environ))
    sinks: list[AuditSink] = [
        JsonlSink(
            spec.path,
            key=keys.record,
            fsync=spec.fsync,
            fsync_interval=spec.fsync_interval_ms / 1000,
            rotate_bytes=spec.rotate_bytes,
        )
    ]
    if spec.sqlite is not None:
        try:
            sinks.append(SqliteSink(spec.sqlite, key=keys.record, durable=spec.fsync == "always"))
        except sqlite3.Error as exc:
            raise ConfigError(f"audit.sqlite {spec.sqlite}: {exc}") from exc
    if spec.otlp:
        try:
            from micro_mcp.audit.otlp import OtlpSink  # the OTel SDK is an optional extra
        except ImportError as exc:
            raise ConfigError(
                "audit.otlp needs the OpenTelemetry SDK: from the clone, "
                ".venv/bin/pip install '.[otlp]'"
            ) from exc

        sinks.append(OtlpSink.from_spec(telemetry, key=keys.record))
    return Breaker(sinks, spec.failure_mode, on_failure), keys
