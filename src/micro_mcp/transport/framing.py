"""Newline-delimited message framing with a size limit, free of I/O.

MCP's stdio transport sends one JSON-RPC message per line. A peer that writes a line longer
than the limit (or never ends one) must not grow our memory: the framer keeps at most `max_bytes`
buffered, drops the rest of such a line and reports it once as `Oversized`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

DEFAULT_MAX_MESSAGE_BYTES: Final = 8 * 1024 * 1024
"""Largest message accepted on a stdio pipe unless configured: several MiB of tool result."""


HEAD_KEPT: Final = 256
"""Bytes kept from the start of a dropped line: enough to find the request id it answered."""
_ID: Final = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')


@dataclass(frozen=True, slots=True)
class Oversized:
    """A line longer than the limit was dropped; `size` is how much of it was seen."""

    size: int
    head: bytes = field(default=b"", compare=False)
    """The line's first bytes (diagnostic: two drops of the same size compare equal)."""

    def request_id(self) -> int | str | None:
        """The JSON-RPC id near the start of the dropped message, if it shows one."""
        found = _ID.search(self.head)
        if found is None:
            return None
        try:
            value = json.loads(found.group(1))
        except ValueError:
            return None
        return value if isinstance(value, int | str) and not isinstance(value, bool) else None


class LineFramer:
    """Split a byte stream into lines of at most `max_bytes` (newline excluded)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._buffer = bytearray()
        self._dropping = 0  # > 0 while skipping the rest of an oversized line
        self._head = b""

    def feed(self, data: bytes) -> list[bytes | Oversized]:
        """Take the next chunk and return the complete lines (and oversize events) it finishes."""
        out: list[bytes | Oversized] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            if self._dropping:
                out.append(Oversized(self._dropping + end - start, self._head))
                self._dropping, self._head = 0, b""
            elif len(self._buffer) + end - start > self.max_bytes:
                head = bytes(self._buffer[:HEAD_KEPT]) or data[start : min(end, start + HEAD_KEPT)]
                out.append(Oversized(len(self._buffer) + end - start, head))
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
            self._head = bytes(self._buffer[:HEAD_KEPT]) or data[start : start + HEAD_KEPT]
            self._buffer.clear()
        elif rest:
            self._buffer += data[start:]
        return out

    def pending(self) -> int:
        """How many bytes of an unfinished line are held."""
        return len(self._buffer)
