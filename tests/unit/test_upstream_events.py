"""Reading a service's SSE stream, over in-memory responses: line ends, size limit, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

import httpx2
import pytest
from httpx2 import ServerSentEvent

from micro_mcp.errors import MessageTooLarge, UpstreamUnavailable
from micro_mcp.upstream.events import FIELD_ALLOWANCE, read_events

pytestmark = pytest.mark.anyio

LIMIT = 1024
SSE = {"content-type": "text/event-stream; charset=utf-8"}
REQUEST = httpx2.Request("GET", "http://svc.test/mcp")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Body:
    """A response body sent `size` bytes at a time, counting how much of it was read."""

    def __init__(self, data: bytes, size: int, then: Exception | None = None) -> None:
        self.data, self.size, self.then = data, size, then
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), self.size):
            self.pulled += self.size
            yield self.data[start : start + self.size]
        if self.then is not None:
            raise self.then


async def events_of(body: Body, headers: dict[str, str] = SSE) -> list[ServerSentEvent]:
    response = httpx2.Response(200, headers=headers, content=body, request=REQUEST)
    async with aclosing(read_events(response, LIMIT)) as events:
        return [event async for event in events]


@pytest.mark.parametrize("size", [1, 2, 7, 4096])
async def test_only_cr_lf_and_crlf_end_lines_wherever_the_chunks_split(size: int) -> None:
    stream = (
        ": a comment\r\n"
        "id: s-1\r\n"
        "data: a\u2028b\u2029c\u0085d\r\n"
        "data: second line\r\n\r\n"
        "event: endpoint\rdata: /messages\r\r"
        "data: no id of its own\n\n"
        "data: an unfinished event is never delivered"
    )
    events = await events_of(Body(stream.encode(), size))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("message", "a\u2028b\u2029c\u0085d\nsecond line", "s-1"),
        ("endpoint", "/messages", "s-1"),
        ("message", "no id of its own", "s-1"),  # the stream's last id so far, for resuming
    ]


async def test_an_event_of_the_limit_passes_one_past_it_fails_having_read_about_that() -> None:
    fits = b"id: s-1\nevent: message\ndata: " + b"x" * LIMIT + b"\n\n"
    endless = Body(b"data: " + b"y" * 64 * LIMIT, 64)
    fitting = await events_of(Body(fits, 64))
    with pytest.raises(MessageTooLarge):
        await events_of(endless)
    assert [len(e.data) for e in fitting] == [LIMIT]
    assert endless.pulled <= LIMIT + FIELD_ALLOWANCE + 64


async def test_many_data_lines_count_toward_one_events_limit() -> None:
    lines = b"data: " + b"z" * 100 + b"\n"
    with pytest.raises(MessageTooLarge):
        await events_of(Body(lines * (2 * (LIMIT + FIELD_ALLOWANCE) // 100) + b"\n", 4096))


async def test_a_response_that_is_no_event_stream_or_breaks_makes_the_service_unavailable() -> None:
    broken = Body(b"data: {}\n\ndata: {", 4096, then=httpx2.ReadError("connection reset"))
    with pytest.raises(UpstreamUnavailable):
        await events_of(Body(b"{}", 4096), {"content-type": "application/json"})
    with pytest.raises(UpstreamUnavailable):
        await events_of(broken)
