"""Reading a service's SSE stream: httpx2's `EventSource`, held to the message size limit.

Only CR LF, CR and LF end an SSE line, so U+2028, U+2029 and U+0085, which JSON encoders leave
unescaped inside strings, stay in the data (a line reader built on `str.splitlines` cut a reply
there). An event is never buffered past the limit: `EventSource` counts the unfinished line too,
and raises as soon as the event outgrows `max_event_size`, however long the line still runs. Its
errors become the `McpError`s the channels hand on.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Final

import httpx2
from httpx2 import EventSource, ServerSentEvent, SSEError

from micro_mcp.errors import MessageTooLarge, UpstreamUnavailable
from micro_mcp.transport import sse

FIELD_ALLOWANCE: Final = 4096
"""Bytes an event may hold beyond the message limit: its `id` and `event` lines, field names."""


def is_event_stream(headers: Mapping[str, str]) -> bool:
    """Whether a response with these headers is an SSE stream (by its content type)."""
    kind, _, _ = headers.get("content-type", "").partition(";")
    return kind.strip().lower() == sse.CONTENT_TYPE


async def read_events(
    response: httpx2.Response, limit: int
) -> AsyncGenerator[ServerSentEvent, None]:
    """The events of `response` as they arrive, none holding more than about `limit` bytes.

    An event carries the stream's last event id so far in `.id` ("" before any).

    Raises:
        MessageTooLarge: an event grew past the limit; it was dropped and the stream is over.
        UpstreamUnavailable: the response is no event stream, or the connection broke.
    """
    if not is_event_stream(response.headers):
        kind = response.headers.get("content-type", "none")
        raise UpstreamUnavailable(f"expected an event stream, got content type {kind!r}")
    source = EventSource(response, max_event_size=limit + FIELD_ALLOWANCE)
    try:
        async for event in source:
            yield event
    except SSEError as exc:
        # EventSource raises SSEError for a content type other than text/event-stream (ruled
        # out above) and for an event over max_event_size: this is the second.
        raise MessageTooLarge(f"an event over the {limit}-byte limit") from exc
    except httpx2.HTTPError as exc:
        raise UpstreamUnavailable(f"the event stream broke: {exc}") from exc
