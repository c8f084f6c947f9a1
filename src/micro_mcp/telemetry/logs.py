"""The gateway's own log on stderr: human-readable lines, or one JSON object per line.

Services' stderr lines arrive through the logger `micro_mcp.service.<namespace>` with a
`service` attribute; a JSON line carries it as a field, so a log pipeline can split the stream
by service. Lines written while a traced request runs carry its trace and span ids. The audit
trail is not a log: it has its own sink and never passes through here.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Final, Literal, TextIO

import orjson

from micro_mcp.telemetry import tracing

TEXT_FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
SERVICE_LOGGER: Final = "micro_mcp.service"
"""Parent of the loggers that carry each service's stderr (`micro_mcp.service.fs`)."""


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and context when known."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        service = getattr(record, "service", None)
        if isinstance(service, str):
            entry["service"] = service
        ids = tracing.current_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(
    level: str = "info",
    log_format: Literal["text", "json"] = "text",
    stream: TextIO | None = None,
) -> None:
    """Send the gateway's log to `stream` (stderr) in the given format, replacing any handler
    set before (the config file may change the format the command line started with)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # One line per upstream HTTP request is noise at info level; failures still show.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, root.level))
