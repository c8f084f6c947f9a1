"""Newline-delimited message framing with a size limit, free of I/O.

MCP's stdio transport sends one JSON-RPC message per line. A peer that writes a line longer
than the limit (or never ends one) must not grow our memory: the framer keeps at most `max_bytes`
buffered, drops the rest of such a line and reports it once as `Oversized`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""Largest message accepted on a stdio pipe unless configured: several MiB of tool result."""


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the limit was dropped; `size` is how much of it was seen."""

    size: int


class LineFramer:
    """Split a byte stream into lines of at most `max_bytes` (newline excluded)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._dropping = 0  # > 0 while skipping the rest of an oversized line

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        """Take the next chunk and return the complete lines (and oversize events) it finishes."""
        out: list[bytes | Oversized] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._dropping:
                out.append(Oversized(self._dropping + end - start))
                self._dropping = 0
            elif len(self._buffer) + end - start > self.max_bytes:
                out.append(Oversized(len(self._buffer) + end - start))
                self._buffer.clear()
            else:
                if self._buffer:
                    self._buffer += data[start:end]
                    line = bytes(self._buffer)
                    self._buffer.clear()
                else:
                    line = data[start:end]
                if line.strip():
                    out.append(line)
            start = end + 1
        rest = len(data) - start
        if self._dropping:
            self._dropping += rest
        elif len(self._buffer) + rest > self.max_bytes:
            self._dropping = len(self._buffer) + rest
            self._buffer.clear()
        elif rest:
            self._buffer += data[start:]
        return out

    def pending(self) -> int:
        """How many bytes of an unfinished line are held."""
        return len(self._buffer)
