"""Where audit records go: the sink protocol, and a list in memory for tests. The real sinks
are `jsonl.JsonlSink` (the file), `sqlite.SqliteSink` and `otlp.OtlpSink`; `breaker.Breaker`
writes to them and decides what a failing one means for the calls."""

from __future__ import annotations

from typing import Protocol

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.jsonl import JsonlSink

__all__ = ["AuditSink", "JsonlSink", "MemoryAuditSink"]


class AuditSink(Protocol):
    """Receives every audit record, in order."""

    def emit(self, event: AuditEvent) -> None:
        """Record one event.

        Raises:
            OSError, sqlite3.Error: the record could not be written (see `breaker`).
        """
        ...

    async def settle(self) -> None:
        """Return once the records emitted so far are as durable as the sink promises."""
        ...

    def close(self) -> None:
        """Flush and release what the sink holds."""
        ...


class MemoryAuditSink:
    """Keeps events in a list, for tests."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        """Append the event."""
        self.events.append(event)

    async def settle(self) -> None:
        """Nothing to wait for."""

    def close(self) -> None:
        """Nothing to release."""
