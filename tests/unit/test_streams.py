"""Replayable SSE streams and the SSE helpers."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from micro_mcp.gateway.fronts.streams import EventStream
from micro_mcp.transport import sse

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _note(n: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progress": n}}


async def test_a_follower_gets_kept_events_then_live_ones_and_stops_after_the_last() -> None:
    stream = EventStream("r1")
    stream.push(_note(1))
    seen: list[int] = []

    async def follow() -> None:
        async for seq, _data in stream.follow():
            seen.append(seq)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            await anyio.lowlevel.checkpoint()
            stream.push(_note(2))
            stream.push({"jsonrpc": "2.0", "id": 1, "result": {}}, last=True)
    assert seen == [1, 2, 3]
    assert stream.finished


async def test_resuming_after_an_event_replays_only_what_came_later() -> None:
    stream = EventStream("s", keep=2)
    for n in range(1, 5):
        stream.push(_note(n))
    stream.close()
    replayed = [seq async for seq, _ in stream.follow(after=3)]
    everything_kept = [seq async for seq, _ in stream.follow()]
    assert replayed == [4]
    assert everything_kept == [3, 4]  # the oldest fell off: memory stays bounded


def test_event_ids_round_trip_through_the_sse_helpers() -> None:
    stream = EventStream("r12")
    assert sse.split_event_id(stream.event_id(7)) == ("r12", 7)
    assert sse.split_event_id("garbage") is None
    assert sse.event("r1-1", b"{}") == b"id: r1-1\nevent: message\ndata: {}\n\n"


async def test_a_session_forgets_only_finished_response_streams() -> None:
    from micro_mcp.gateway.fronts.http_sessions import HttpSession
    from micro_mcp.policy.model import Policy, Principal

    session = HttpSession(Principal("p", Policy()))
    answered = session.open_response(1)
    running = session.open_response(2)
    await session.deliver({"jsonrpc": "2.0", "id": 1, "result": {}}, 1)
    await session.deliver({"jsonrpc": "2.0", "method": "notifications/progress"}, 2)
    session.forget(1)
    session.forget(2)
    assert session.stream_named(answered.name) is None
    assert session.stream_named(running.name) is running
    assert running.seq == 1 and not running.finished


def test_a_priming_event_has_an_id_a_retry_and_empty_data() -> None:
    assert sse.priming("r2-0", 1000) == b"id: r2-0\nretry: 1000\ndata: \n\n"
