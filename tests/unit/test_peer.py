"""The one table of requests awaiting replies, for both directions."""

from __future__ import annotations

import anyio
import pytest

from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.transport.peer import Peer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Wire:
    """What the peer was sent, and a signal per message."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.arrived = anyio.Event()

    async def send(self, message: Message) -> None:
        self.sent.append(message)
        self.arrived.set()


async def test_a_reply_reaches_the_request_with_its_id_and_no_other() -> None:
    peer, wire = Peer(), Wire()
    replies: dict[int, Message | None] = {}

    async def ask(request_id: int) -> None:
        replies[request_id] = await peer.call(wire.send, jsonrpc.request(request_id, "m"), 5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask, 1)
        tg.start_soon(ask, 2)
        with anyio.fail_after(5):
            while len(wire.sent) < 2:
                await wire.arrived.wait()
                wire.arrived = anyio.Event()
        assert not peer.resolve(jsonrpc.result(3, {}))  # nobody waits for 3
        assert not peer.resolve({"jsonrpc": "2.0", "id": True, "result": {}})  # True is not 1
        assert peer.resolve(jsonrpc.result(2, {"two": 2}))
        assert peer.resolve(jsonrpc.result(1, {"one": 1}))
    assert replies == {1: jsonrpc.result(1, {"one": 1}), 2: jsonrpc.result(2, {"two": 2})}
    assert len(peer) == 0


async def test_a_deadline_cancels_the_request_at_the_peer() -> None:
    peer, wire = Peer(), Wire()
    with pytest.raises(TimeoutError):
        await peer.call(wire.send, jsonrpc.request(7, "slow"), 0.01)
    assert wire.sent[-1] == jsonrpc.notification(
        "notifications/cancelled", {"requestId": 7, "reason": "timeout"}
    )
    assert len(peer) == 0


async def test_a_cancelled_caller_cancels_the_request_at_the_peer() -> None:
    peer, wire = Peer(), Wire()
    async with anyio.create_task_group() as tg:
        tg.start_soon(peer.call, wire.send, jsonrpc.request(8, "slow"), None)
        with anyio.fail_after(5):
            await wire.arrived.wait()
        tg.cancel_scope.cancel()
    assert wire.sent[-1]["method"] == "notifications/cancelled"
    assert wire.sent[-1]["params"]["requestId"] == 8


async def test_closing_wakes_every_waiter_without_a_reply_and_refuses_to_notify() -> None:
    peer, wire = Peer(), Wire()
    got: list[Message | None] = []

    async def ask() -> None:
        got.append(await peer.call(wire.send, jsonrpc.request(9, "m"), 5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        with anyio.fail_after(5):
            await wire.arrived.wait()
        peer.close("gone")
    assert got == [None]
    assert peer.closed == "gone"


async def test_fail_answers_a_waiting_request_with_the_error_once() -> None:
    peer, wire = Peer(), Wire()
    got: list[Message | None] = []

    async def ask() -> None:
        got.append(await peer.call(wire.send, jsonrpc.request(4, "m"), 5))

    async with anyio.create_task_group() as tg:
        tg.start_soon(ask)
        with anyio.fail_after(5):
            await wire.arrived.wait()
        peer.fail(4, {"code": -32012, "message": "broke"})
        assert not peer.resolve(jsonrpc.result(4, {}))  # a late reply changes nothing
    assert got == [jsonrpc.error(4, {"code": -32012, "message": "broke"})]
