"""Resource subscriptions in memory: counted over clients and told to the service once, updates
fanned out to every subscriber, in the form of its era."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest

from micro_mcp import codes
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import Tap, gateway, modern_meta

pytestmark = pytest.mark.anyio

A, B = "fs+file:///a.txt", "fs+file:///b.txt"
UPDATED = "notifications/resources/updated"
SUBSCRIPTION_ID = versions.SUBSCRIPTION_ID_KEY


async def watched(inbox: Inbox, outbox: Outbox) -> None:
    """A handshake-era service with two resources that takes subscriptions (the SDK server
    serves `resources/subscribe` only over 2026-07-28)."""
    results: dict[str, Any] = {
        "initialize": {
            "protocolVersion": versions.LATEST_HANDSHAKE,
            "capabilities": {"resources": {"subscribe": True}},
            "serverInfo": {"name": "fs", "version": "0"},
        },
        "resources/list": {"resources": [{"uri": "file:///a.txt"}, {"uri": "file:///b.txt"}]},
    }
    async for raw in inbox:
        message = orjson.loads(raw)
        if "id" in message and "method" in message:
            result = results.get(message["method"], {})
            await outbox.send(jsonrpc.encode(jsonrpc.result(message["id"], result)))


def _updated(uri: str) -> dict[str, Any]:
    return jsonrpc.notification(UPDATED, {"uri": uri})


async def test_handshake_subscriptions_are_counted_and_told_to_the_service_once() -> None:
    fs = Tap(watched)
    async with gateway({"fs": fs}) as gw:
        first, second = gw.client(), gw.client()
        for client in (first, second):
            await client.initialize()
            assert (await client.request("resources/subscribe", {"uri": A}))["result"] == {}
        assert [m["params"] for m in fs.of("resources/subscribe")] == [{"uri": "file:///a.txt"}]

        await fs.send(_updated("file:///a.txt"))
        for client in (first, second):
            assert (await client.notification(UPDATED))["params"] == {"uri": A}

        # `first` leaves A but watches B: B's update, sent after A's, shows A's passed it by.
        await first.request("resources/subscribe", {"uri": B})
        await first.request("resources/unsubscribe", {"uri": A})
        assert fs.of("resources/unsubscribe") == []
        await fs.send(_updated("file:///a.txt"))
        await fs.send(_updated("file:///b.txt"))
        assert (await first.notification(UPDATED))["params"] == {"uri": B}
        assert (await second.notification(UPDATED))["params"] == {"uri": A}
        assert first.notifications == []

        await second.request("resources/unsubscribe", {"uri": A})
        unsubscribed = await fs.wait_for("resources/unsubscribe")
        assert unsubscribed["params"] == {"uri": "file:///a.txt"}
        assert [m["params"]["uri"] for m in fs.of("resources/subscribe")] == [
            "file:///a.txt",
            "file:///b.txt",
        ]


async def test_listen_streams_are_acknowledged_tagged_and_counted_like_subscriptions() -> None:
    fs = Tap(watched)
    async with gateway({"fs": fs}) as gw:
        clients = [gw.client(), gw.client()]
        listens = [
            client.send(
                "subscriptions/listen",
                {
                    "notifications": {"resourceSubscriptions": [A], "toolsListChanged": True},
                    "_meta": modern_meta(),
                },
                request_id=f"listen-{i}",
            )
            for i, client in enumerate(clients)
        ]
        for client, listen in zip(clients, listens, strict=True):
            ack = await client.notification("notifications/subscriptions/acknowledged")
            assert ack["params"] == {
                "_meta": {SUBSCRIPTION_ID: listen},
                "notifications": {"toolsListChanged": True, "resourceSubscriptions": [A]},
            }
            assert (ack, listen) in client.deliveries
        assert len(fs.of("resources/subscribe")) == 1

        await fs.send(_updated("file:///a.txt"))
        for client, listen in zip(clients, listens, strict=True):
            update = await client.notification(UPDATED)
            assert update["params"] == {"uri": A, "_meta": {SUBSCRIPTION_ID: listen}}
            assert (update, listen) in client.deliveries

        await clients[0].notify("notifications/cancelled", {"requestId": listens[0]})
        await gw.audit.wait_for(event="reply", method="subscriptions/listen")
        assert fs.of("resources/unsubscribe") == []
        await clients[1].notify("notifications/cancelled", {"requestId": listens[1]})
        assert (await fs.wait_for("resources/unsubscribe"))["params"] == {"uri": "file:///a.txt"}
        await gw.audit.wait_for(2, event="reply", method="subscriptions/listen")
        replies = gw.audit.of(event="reply", method="subscriptions/listen")
        assert [r.outcome for r in replies] == ["cancelled", "cancelled"]


async def test_a_listen_for_an_unknown_resource_is_refused_without_telling_the_service() -> None:
    fs = Tap(watched)
    async with gateway({"fs": fs}) as gw:
        client = gw.client()
        reply = await client.request(
            "subscriptions/listen",
            {"notifications": {"resourceSubscriptions": ["nope+x:///"]}, "_meta": modern_meta()},
        )
        assert reply["error"]["code"] == codes.INVALID_PARAMS
        assert fs.of("resources/subscribe") == []


async def test_a_subscribe_the_service_refused_is_not_counted_and_can_be_retried() -> None:
    refused: list[dict[str, Any]] = []

    async def refuses_first_subscribe(inbox: Inbox, outbox: Outbox) -> None:
        to_watched, watched_inbox = anyio.create_memory_object_stream[bytes](8)

        async def pass_on() -> None:
            async with to_watched:
                async for raw in inbox:
                    message = orjson.loads(raw)
                    if message.get("method") == "resources/subscribe" and not refused:
                        refused.append(message)
                        error = {"code": codes.INTERNAL_ERROR, "message": "not now"}
                        await outbox.send(jsonrpc.encode(jsonrpc.error(message["id"], error)))
                    else:
                        await to_watched.send(raw)

        async with anyio.create_task_group() as tg, watched_inbox:
            tg.start_soon(pass_on)
            await watched(watched_inbox, outbox)

    fs = Tap(refuses_first_subscribe)
    async with gateway({"fs": fs}) as gw:
        client = gw.client()
        await client.initialize()
        first = await client.request("resources/subscribe", {"uri": A})
        assert first["error"]["code"] == codes.INTERNAL_ERROR
        assert (await client.request("resources/subscribe", {"uri": A}))["result"] == {}
        assert len(fs.of("resources/subscribe")) == 2
