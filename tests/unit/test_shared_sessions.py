"""Handshake-era sessions through a shared store: two replicas (two session tables) on one
`MemoryStore` adopt each other's sessions for the principal that opened them only, forget one
ended or revoked on the other, route the client's answers and cancellations to the replica
concerned, relay the standalone stream to where the client listens, and resume each other's
response streams from the events kept."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import orjson
import pytest

from micro_mcp import codes
from micro_mcp.errors import StateUnavailable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.fronts.http_sessions import HttpSession, SessionTable
from micro_mcp.gateway.fronts.shared_sessions import SharedSessions
from micro_mcp.gateway.fronts.shared_streams import KEPT_EVENT_MAX_BYTES
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.versions import Era
from micro_mcp.state.replicas import Replicas
from micro_mcp.state.store import MemoryStore

pytestmark = pytest.mark.anyio

ALICE = Principal("alice", Policy())
BOB = Principal("bob", Policy())


class Clients:
    """What the front does with a client, recorded: opened (adopted) and closed."""

    def __init__(self) -> None:
        self.opened: list[ClientSession] = []
        self.closed: list[ClientSession] = []

    def open(self, client: ClientSession) -> None:
        self.opened.append(client)

    def close(self, client: ClientSession) -> None:
        self.closed.append(client)


class Replica:
    """One gateway's session table and its shared view, on the deployment's store."""

    def __init__(self, store: Any, name: str) -> None:
        self.table = SessionTable(max_sessions=10, idle_seconds=60, per_principal=10)
        self.front = Clients()
        self.replicas = Replicas(store, "1", lambda: "config", me=name)
        self.shared = SharedSessions(store, self.table, self.front, 60, self.replicas)  # pyright: ignore[reportArgumentType]

    async def find(self, session_id: str, principal: Principal) -> HttpSession | None:
        held = self.table.get(session_id, principal)
        return await self.shared.find(session_id, principal, held)


async def opened(replica: Replica, principal: Principal = ALICE) -> HttpSession:
    """A session created on `replica` whose `initialize` was answered."""
    session = replica.table.create(principal)
    assert isinstance(session, HttpSession)
    await replica.shared.open(session)
    client = session.client
    client.era, client.version = Era.HANDSHAKE, "2025-11-25"
    client.capabilities = {"elicitation": {"form": {}}}
    client.client_info = {"name": "t", "version": "1"}
    client.log_level = "debug"
    await client.send(jsonrpc.result(1, {}), 1)  # the reply to initialize saves the record
    return session


async def test_a_session_opened_on_one_replica_is_adopted_by_another_as_it_was() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)

    adopted = await b.find(session.id, ALICE)

    assert adopted is not None and adopted is not session
    assert adopted.id == session.id and adopted.client.id == session.client.id
    assert adopted.client.era is Era.HANDSHAKE and adopted.client.version == "2025-11-25"
    assert adopted.client.capabilities == {"elicitation": {"form": {}}}
    assert adopted.client.client_info == {"name": "t", "version": "1"}
    assert adopted.client.log_level == "debug"
    assert b.front.opened == [adopted.client]
    assert await b.find(session.id, ALICE) is adopted  # held from now on


async def test_another_principal_or_a_forged_id_finds_no_session_on_any_replica() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    await b.find(session.id, ALICE)

    assert await a.find(session.id, BOB) is None
    assert await b.find(session.id, BOB) is None  # held there for alice: still not bob's
    assert await Replica(store, "c").find(session.id, BOB) is None
    assert await b.find("forged-" + session.id, ALICE) is None


async def test_a_session_ended_on_one_replica_is_gone_on_the_others() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    adopted = await b.find(session.id, ALICE)
    assert adopted is not None

    await a.shared.end(session.id)

    assert await b.find(session.id, ALICE) is None
    assert b.front.closed == [adopted.client]
    assert b.table.holding(session.id) is None


async def test_a_change_of_log_level_on_one_replica_is_seen_by_a_replica_adopting_later() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    session.client.log_level = "error"
    session.client.subscriptions.add("fs+file:///x")
    await session.client.send(jsonrpc.result(2, {}), 2)

    adopted = await b.find(session.id, ALICE)

    assert adopted is not None
    assert adopted.client.log_level == "error"
    assert adopted.client.subscriptions == {"fs+file:///x"}


async def test_a_copy_held_by_one_replica_sees_what_another_changed_on_its_next_request() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    copy = await b.find(session.id, ALICE)
    assert copy is not None
    copy.client.log_level = "critical"
    copy.client.subscriptions.add("fs+file:///y")
    await copy.client.send(jsonrpc.result(3, {}), 3)  # b answers logging/setLevel

    again = await a.find(session.id, ALICE)

    assert again is session
    assert session.client.log_level == "critical"
    assert session.client.subscriptions == {"fs+file:///y"}


async def test_an_answer_posted_to_another_replica_reaches_the_request_waiting_for_it() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    answered: list[Any] = []
    done = anyio.Event()

    async def ask() -> None:
        answered.append(await session.client.request(7, "roots/list", {}, None, timeout=5))
        done.set()

    async with anyio.create_task_group() as tg:
        await tg.start(a.shared.run)
        tg.start_soon(ask)
        with anyio.fail_after(5):
            while not session.client.awaiting.waiting(7):
                await anyio.lowlevel.checkpoint()
        elsewhere = await b.find(session.id, ALICE)
        assert elsewhere is not None
        asked = orjson.loads(session.standalone.latest()[1])  # as the client got it
        answer = jsonrpc.result(asked["id"], {"roots": []})
        assert await b.shared.forward(elsewhere, answer)
        with anyio.fail_after(5):
            await done.wait()
        tg.cancel_scope.cancel()

    assert asked["id"] == "a:7"  # names the replica waiting for the answer
    assert answered == [jsonrpc.result(7, {"roots": []})]


async def test_an_answer_posted_to_the_replica_waiting_for_it_is_taken_there() -> None:
    store = MemoryStore()
    a = Replica(store, "a")
    session = await opened(a)
    answer = jsonrpc.result("a:7", {})

    assert not await a.shared.forward(session, answer)
    assert answer["id"] == 7  # the id its request waits under


async def test_an_answer_nobody_waits_for_is_not_routed() -> None:
    store = MemoryStore()
    a = Replica(store, "a")
    session = await opened(a)

    assert not await a.shared.forward(session, jsonrpc.result(99, {}))
    assert not await a.shared.forward(session, jsonrpc.notification("notifications/x", {}))


class DownStore(MemoryStore):
    """A store that cannot be reached."""

    async def get(self, key: str) -> bytes | None:
        raise StateUnavailable("down")

    async def touch(self, key: str, ttl: float) -> bool:
        raise StateUnavailable("down")

    async def refresh(self, key: str, ttl: float) -> bytes | None:
        raise StateUnavailable("down")

    async def delete(self, key: str) -> None:
        raise StateUnavailable("down")


async def test_with_the_store_down_finding_a_session_is_a_state_error() -> None:
    b = Replica(DownStore(), "b")

    with pytest.raises(StateUnavailable) as down:
        await b.find("some-session", ALICE)

    assert down.value.code == codes.STATE_UNAVAILABLE


async def test_the_memory_store_touches_deletes_and_carries_messages_to_subscribers() -> None:
    store = MemoryStore()
    await store.put("k", b"v", 10)

    assert await store.touch("k", 10)
    assert not await store.touch("absent", 10)
    await store.delete("k")
    assert await store.get("k") is None

    async with store.subscribe("ch") as messages:
        await store.publish("ch", b"one")
        await store.publish("other", b"not for us")
        await store.publish("ch", b"two")
        got = [await anext(aiter(messages)), await anext(aiter(messages))]
    await store.publish("ch", b"nobody listens")

    assert got == [b"one", b"two"]


async def test_a_stream_resumed_on_another_replica_replays_what_was_missed_then_goes_live() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    stream = session.open_response(5)
    await session.client.send(jsonrpc.notification("notifications/progress", {"n": 1}), 5)
    await session.client.send(jsonrpc.notification("notifications/progress", {"n": 2}), 5)
    got: list[tuple[int, bytes]] = []

    async with anyio.create_task_group() as tg:
        tg.start_soon(a.replicas.run)
        assert b.shared.streams.foreign(stream.name) and not a.shared.streams.foreign(stream.name)
        async with b.shared.streams.resumed(session.id, stream.name) as resumed:
            assert resumed is not None
            await session.client.send(jsonrpc.result(5, {"done": True}), 5)  # live, from a
            with anyio.fail_after(5):
                got = [event async for event in resumed.follow(after=1)]
        tg.cancel_scope.cancel()

    assert [seq for seq, _ in got] == [2, 3]
    assert b'"n":2' in got[0][1] and b'"done":true' in got[1][1]
    assert [stream.event_id(seq) for seq, _ in got] == [f"{stream.name}-2", f"{stream.name}-3"]


async def test_a_stream_whose_replica_stopped_ends_with_an_error_for_its_request() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    stream = session.open_response(5)
    await session.client.send(jsonrpc.notification("notifications/progress", {"n": 1}), 5)
    # replica a never announces itself: as if it had been killed

    async with b.shared.streams.resumed(session.id, stream.name) as resumed:
        assert resumed is not None
        with anyio.fail_after(5):
            got = [data async for _, data in resumed.follow(after=1)]

    assert len(got) == 1
    error = orjson.loads(got[0])
    assert error["id"] == 5 and error["error"]["code"] == codes.UPSTREAM_UNAVAILABLE


async def test_a_stream_of_a_stopped_replica_with_nothing_kept_is_not_found() -> None:
    store = MemoryStore()
    b = Replica(store, "b")

    async with b.shared.streams.resumed("some-session", "r3.a") as resumed:
        assert resumed is None


async def test_a_revoked_principals_sessions_are_adopted_nowhere_and_a_store_down_is_no_crash() -> (
    None
):
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    held = await opened(a)
    elsewhere = await opened(Replica(store, "c"))  # held by a replica that is not told
    bobs = await opened(a, BOB)

    await a.shared.revoke(frozenset({"alice"}), [held.id])
    await Replica(DownStore(), "d").shared.revoke(frozenset({"alice"}), [held.id])  # logged
    later = await opened(a)  # with the new credential

    assert await b.find(held.id, ALICE) is None
    assert await b.find(elsewhere.id, ALICE) is None
    assert await b.find(bobs.id, BOB) is not None
    assert await b.find(later.id, ALICE) is not None


async def test_a_cancellation_posted_to_another_replica_cancels_the_request_where_it_runs() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    cancelled = anyio.Event()

    async def request() -> None:
        with anyio.CancelScope() as scope:
            session.client.in_flight[3] = scope
            await anyio.sleep_forever()
        cancelled.set()

    async with anyio.create_task_group() as tg:
        await tg.start(a.shared.run)
        tg.start_soon(request)
        elsewhere = await b.find(session.id, ALICE)
        assert elsewhere is not None
        notice = jsonrpc.notification("notifications/cancelled", {"requestId": 3})
        while 3 not in session.client.in_flight:
            await anyio.lowlevel.checkpoint()
        assert await b.shared.forward(elsewhere, notice)
        with anyio.fail_after(5):
            await cancelled.wait()
        tg.cancel_scope.cancel()

    assert not await a.shared.forward(session, jsonrpc.notification("notifications/cancelled", {}))


async def test_what_joins_a_standalone_stream_nobody_follows_reaches_the_replica_with_the_get() -> (
    None
):
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    followed = await b.find(session.id, ALICE)
    assert followed is not None
    updated = jsonrpc.notification("notifications/resources/updated", {"uri": "fs+file:///x"})
    changed = jsonrpc.notification("notifications/tools/list_changed", {})

    followed.listening = True
    async with anyio.create_task_group() as tg:
        await tg.start(b.shared.run)
        async with b.shared.relayed(followed):
            await session.client.send(changed)  # b sends its own
            await session.client.send(updated)
            with anyio.fail_after(5):
                got = [orjson.loads(data) async for _, data in _first(followed.standalone.follow())]
        tg.cancel_scope.cancel()

    assert got == [updated]
    assert followed.standalone.name == "s.b" and session.standalone.name == "s.a"


async def _first(events: Any) -> Any:
    async for event in events:
        yield event
        return


async def test_the_gateway_cancels_its_request_to_the_client_by_the_id_the_client_knows() -> None:
    store = MemoryStore()
    a = Replica(store, "a")
    session = await opened(a)

    with pytest.raises(TimeoutError):
        await session.client.request(8, "roots/list", {}, None, timeout=0)

    notice = orjson.loads(session.standalone.latest()[1])
    assert notice["method"] == "notifications/cancelled"
    assert notice["params"]["requestId"] == "a:8"


async def test_a_reply_too_large_to_keep_is_kept_as_an_error_for_its_request() -> None:
    store = MemoryStore()
    a, b = Replica(store, "a"), Replica(store, "b")
    session = await opened(a)
    stream = session.open_response(5)
    await session.client.send(jsonrpc.result(5, {"big": "x" * (KEPT_EVENT_MAX_BYTES + 1)}), 5)

    async with b.shared.streams.resumed(session.id, stream.name) as resumed:
        assert resumed is not None
        got = [orjson.loads(data) async for _, data in resumed.follow()]

    assert [message["id"] for message in got] == [5]
    assert got[0]["error"]["code"] == codes.INTERNAL_ERROR
