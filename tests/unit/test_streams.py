"""Replayable SSE streams and the SSE helpers."""

from __future__ import annotations

import functools

import anyio
import anyio.lowlevel
import pytest

from micro_mcp.gateway.fronts.responses import stream_out
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


async def test_a_cut_stops_followers_that_asked_once_they_have_what_is_in() -> None:
    # SSE polling passed on: the response in progress ends at the cut, the stream goes on, and
    # whoever resumes it after the last event it saw gets the reply.
    stream = EventStream("r1")
    stream.push(_note(1))
    stopped: list[int] = []
    kept_on: list[int] = []

    async def follow(seen: list[int], until_cut: bool) -> None:
        async for seq, _data in stream.follow(until_cut=until_cut):
            seen.append(seq)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(follow, stopped, True)
            tg.start_soon(follow, kept_on, False)
            await anyio.lowlevel.checkpoint()
            stream.push(_note(2))
            stream.cut()
            await anyio.wait_all_tasks_blocked()
            assert stopped == [1, 2]
            stream.push({"jsonrpc": "2.0", "id": 1, "result": {}}, last=True)
        resumed = [seq async for seq, _ in stream.follow(after=2, until_cut=True)]
    assert stopped == [1, 2]
    assert kept_on == [1, 2, 3]
    assert resumed == [3]


async def _answer(stream: EventStream, **flags: bool) -> list[dict[str, object]]:
    """What `stream_out` sends for `stream` (cut at once), as ASGI messages."""
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    async def receive() -> dict[str, object]:
        await anyio.sleep_forever()
        raise AssertionError

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(functools.partial(stream_out, {}, receive, send, stream, [], **flags))
            await anyio.wait_all_tasks_blocked()
            stream.cut()
            await anyio.wait_all_tasks_blocked()
            if not stream.finished:
                stream.push({"jsonrpc": "2.0", "id": 1, "result": {}}, last=True)
    return sent


async def test_a_primed_sse_answer_cut_before_its_first_message_ends_after_priming() -> None:
    sent = await _answer(EventStream("r3"), modern=False, primed=True, prefer_sse=True)
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == sse.priming("r3-0", 1000)
    assert sent[1]["more_body"] is False


async def test_an_answer_the_client_cannot_resume_is_not_cut() -> None:
    # Accepting only JSON, the client gets the reply as JSON when it comes, cut or not.
    sent = await _answer(EventStream("r4"), modern=False, primed=True, prefer_sse=False)
    assert sent[0]["type"] == "http.response.start"
    assert (b"content-type", b"application/json") in sent[0]["headers"]  # type: ignore[operator]
    assert sent[-1]["body"] == b'{"jsonrpc":"2.0","id":1,"result":{}}'
