"""Server-sent events: the framing Streamable HTTP uses for streamed responses. Pure.

What the gateway writes to its clients. A service's streams are read by httpx2's EventSource
(`upstream/events.py`), which splits lines only where SSE does and bounds an event's size.
"""

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
