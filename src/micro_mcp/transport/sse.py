"""Server-sent events: the framing Streamable HTTP uses for streamed responses. Pure."""

from __future__ import annotations

from typing import Final

CONTENT_TYPE: Final = "text/event-stream"


def event(event_id: str, data: bytes) -> bytes:
    """One `message` event carrying one JSON-RPC message (which holds no newline: orjson)."""
    return b"id: " + event_id.encode() + b"\nevent: message\ndata: " + data + b"\n\n"


def priming(event_id: str, retry_ms: int) -> bytes:
    """The event that opens a resumable stream (SEP-1699): an id to resume from, the delay
    before reconnecting, and empty data."""
    return b"id: " + event_id.encode() + b"\nretry: " + str(retry_ms).encode() + b"\ndata: \n\n"


def split_event_id(event_id: str) -> tuple[str, int] | None:
    """The stream name and sequence number of an id made by `EventStream`, or None."""
    stream, sep, seq = event_id.rpartition("-")
    if not sep or not stream or not seq.isdigit():
        return None
    return stream, int(seq)


class EventParser:
    """Turns the lines of an SSE stream into the data of its events (sans-IO).

    Only `data` matters to MCP; `id` and `retry` are kept for reconnecting, comments are read
    past.
    An event whose data grows past `max_bytes` is dropped whole rather than held.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: list[str] = []
        self._size = 0
        self.last_id: str | None = None
        """The id of the last complete event, for `Last-Event-ID` on reconnect."""
        self.retry_ms: int | None = None
        """The stream's last `retry` field: how long to wait before reconnecting."""
        self._id: str | None = None
        self._type = "message"
        self.event_type = "message"
        """The `event` field of the event `feed` returned last (`message` when it had none)."""
        self.dropped = 0

    def feed(self, line: str) -> str | None:
        """Take one line (without its end); return an event's data when the line completes it."""
        if not line:
            data = "\n".join(self._data) if self._data else None
            if self._id is not None:
                self.last_id = self._id
            self.event_type = self._type
            self._data, self._size, self._id, self._type = [], 0, None, "message"
            return data
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            self._size += len(value)
            if self._size > self.max_bytes:
                self.dropped += 1
                self._data = []
                return None
            self._data.append(value)
        elif field == "id":
            self._id = value
        elif field == "event":
            self._type = value
        elif field == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None
