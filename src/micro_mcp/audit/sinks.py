"""Where audit records go: the sink protocol, and a list in memory for tests. The real sinks
are `jsonl.JsonlSink` (the file), `sqlite.SqliteSink` and `otlp.OtlpSink`; `breaker.Breaker`
writes to them and decides what a failing one means for the calls."""

from __future__ import annotations

from collections import deque
from typing import Protocol

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.jsonl import JsonlSink

__all__ = ["AuditSink", "AuditTail", "JsonlSink", "MemoryAuditSink"]


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


class AuditTail:
    """Passes every event on to another sink and keeps the last `size` of them, numbered, for
    the operator's live view of the trail."""

    def __init__(self, inner: AuditSink, size: int = 500) -> None:
        self.inner = inner
        self._events: deque[tuple[int, AuditEvent]] = deque(maxlen=size)
        self._count = 0

    def emit(self, event: AuditEvent) -> None:
        """Pass the event on, and keep it."""
        self.inner.emit(event)
        self._count += 1
        self._events.append((self._count, event))

    async def settle(self) -> None:
        """Wait as the sink it passes events to does."""
        await self.inner.settle()

    def since(self, after: int) -> list[tuple[int, AuditEvent]]:
        """The kept events numbered above `after` (0: all kept), oldest first."""
        return [(number, event) for number, event in self._events if number > after]

    def close(self) -> None:
        """Close the sink it passes events to."""
        self.inner.close()
