"""Where audit records go: a JSON-lines file or stream, or a list in memory for tests."""

from __future__ import annotations

import sys
from collections import deque
from typing import BinaryIO, Protocol

from micro_mcp.audit.events import AuditEvent


class AuditSink(Protocol):
    """Receives every audit record, in order."""

    def emit(self, event: AuditEvent) -> None:
        """Record one event; must not raise for an ordinary record."""
        ...

    def close(self) -> None:
        """Flush and release what the sink holds."""
        ...


class JsonlSink:
    """Appends one JSON line per event to a file, or to the gateway's stderr for `-`."""

    def __init__(self, path: str) -> None:
        self._own = path != "-"
        # Line-buffered writes of whole lines: each record reaches the file intact and at once,
        # so a crash loses no audit line that was emitted.
        self._file: BinaryIO = open(path, "ab", buffering=0) if self._own else sys.stderr.buffer  # noqa: SIM115 (the sink owns the file until close())

    def emit(self, event: AuditEvent) -> None:
        """Write the event as one line."""
        self._file.write(event.to_json())
        if not self._own:
            self._file.flush()

    def close(self) -> None:
        """Close the file (stderr stays open)."""
        if self._own:
            self._file.close()


class MemoryAuditSink:
    """Keeps events in a list, for tests."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        """Append the event."""
        self.events.append(event)

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

    def since(self, after: int) -> list[tuple[int, AuditEvent]]:
        """The kept events numbered above `after` (0: all kept), oldest first."""
        return [(number, event) for number, event in self._events if number > after]

    def close(self) -> None:
        """Close the sink it passes events to."""
        self.inner.close()
