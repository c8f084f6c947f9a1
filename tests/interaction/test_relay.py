"""The relay in memory: ids and progress tokens renamed per hop, cancellation passed on, and a
slow, dead or busy service answered for with the gateway's own errors."""

from __future__ import annotations

from typing import Any

import anyio
import orjson
import pytest
from mcp.server.mcpserver import Context, MCPServer

from micro_mcp import codes
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio


def _fs(release: anyio.Event) -> MCPServer:
    server = MCPServer("fs")

    @server.tool()
    def echo(note: str) -> str:
        return note

    @server.tool()
    async def work(note: str, ctx: Context) -> str:
        await ctx.report_progress(1, 2, note)
        await release.wait()
        return note

    return server


def _call(name: str, note: str = "", meta: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": {"note": note}}
    if meta is not None:
        params["_meta"] = meta
    return params


async def test_the_service_sees_gateway_unique_request_ids_never_the_clients() -> None:
    fs = Tap(sdk_service(_fs(anyio.Event())))
    async with gateway({"fs": fs}) as gw:
        first, second = gw.client(), gw.client()
        await first.initialize()
        await second.initialize()
        for client in (first, second, first):
            reply = await client.request("tools/call", _call("fs.echo", "x"), request_id="same")
            assert reply["id"] == "same"
            assert reply["result"]["structuredContent"] == {"result": "x"}
        upstream = [m["id"] for m in fs.of("tools/call")]
        assert len(set(upstream)) == 3
        assert "same" not in upstream
        calls = gw.audit.of(event="call", method="tools/call")
        assert [c.correlation_id for c in calls] == [str(i) for i in upstream]


async def test_progress_tokens_are_renamed_upstream_and_restored_on_the_right_request() -> None:
    release = anyio.Event()
    fs = Tap(sdk_service(_fs(release)))
    async with gateway({"fs": fs}) as gw:
        a, b = gw.client(), gw.client()
        await a.initialize()
        await b.initialize()
        # Both clients pick the same token and the same request id: only the gateway can tell.
        both = ((a, "from a"), (b, "from b"))
        for client, note in both:
            client.send("tools/call", _call("fs.work", note, {"progressToken": "tok"}), 7)
        for client, note in both:
            progress = await client.notification("notifications/progress")
            assert progress["params"] == {
                "progressToken": "tok",
                "progress": 1,
                "total": 2,
                "message": note,
            }
            assert (progress, 7) in client.deliveries
        tokens = [m["params"]["_meta"]["progressToken"] for m in fs.of("tools/call")]
        assert tokens == [m["id"] for m in fs.of("tools/call")]
        assert "tok" not in tokens
        release.set()
        for client, note in both:
            reply = await client.response(7)
            assert reply["result"]["structuredContent"] == {"result": note}
            assert client.notifications == []


async def test_client_cancellation_stops_the_call_and_cancels_the_services_own_request() -> None:
    fs = Tap(sdk_service(_fs(anyio.Event())))
    async with gateway({"fs": fs}) as gw:
        client = gw.client()
        await client.initialize()
        request_id = client.send("tools/call", _call("fs.work"))
        call = await fs.wait_for("tools/call")
        await client.notify("notifications/cancelled", {"requestId": request_id})

        cancelled = await fs.wait_for("notifications/cancelled")
        assert cancelled["params"]["requestId"] == call["id"] != request_id
        reply = await gw.audit.wait_for(event="reply", method="tools/call")
        assert (reply.outcome, reply.correlation_id) == ("cancelled", str(call["id"]))
        # A cancelled request is never answered: the next answer is the ping's.
        await client.request("ping")
        assert [m.get("id") for m, _ in client.deliveries if "method" not in m] == [1, 3]


@pytest.mark.parametrize(
    "entry", [{"timeout": 0.05}, {"toolTimeouts": {"work": 0.05}}], ids=["timeout", "toolTimeouts"]
)
async def test_a_call_past_its_timeout_is_upstream_timeout_and_cancelled_upstream(
    entry: dict[str, Any],
) -> None:
    fs = Tap(sdk_service(_fs(anyio.Event())))
    async with gateway({"fs": fs}, entries={"fs": entry}) as gw:
        client = gw.client()
        await client.initialize()
        reply = await client.request("tools/call", _call("fs.work"))
        assert reply["error"]["code"] == codes.UPSTREAM_TIMEOUT
        call = fs.of("tools/call")[0]
        cancelled = await fs.wait_for("notifications/cancelled")
        assert cancelled["params"]["requestId"] == call["id"]


async def test_a_service_that_returns_mid_call_is_upstream_unavailable_at_once() -> None:
    sdk = sdk_service(_fs(anyio.Event()))

    async def dies_on_call(inbox: Inbox, outbox: Outbox) -> None:
        # The SDK server answers the handshake and the lists; the first call ends the service.
        to_sdk, sdk_inbox = anyio.create_memory_object_stream[bytes](8)

        async def pass_until_call() -> None:
            async with to_sdk:
                async for raw in inbox:
                    if orjson.loads(raw).get("method") == "tools/call":
                        tg.cancel_scope.cancel()
                        return
                    await to_sdk.send(raw)

        async with anyio.create_task_group() as tg, sdk_inbox:
            tg.start_soon(pass_until_call)
            await sdk(sdk_inbox, outbox)

    # An hour's timeout: the answer comes because the service is gone, not because time passed.
    async with gateway({"fs": dies_on_call}, entries={"fs": {"timeout": 3600}}) as gw:
        client = gw.client()
        await client.initialize()
        reply = await client.request("tools/call", _call("fs.echo", "x"))
        assert reply["error"]["code"] == codes.UPSTREAM_UNAVAILABLE


async def test_calls_past_max_concurrent_and_max_queued_are_overloaded() -> None:
    release = anyio.Event()
    fs = Tap(sdk_service(_fs(release)))
    entries = {"fs": {"maxConcurrent": 1, "maxQueued": 1}}
    async with gateway({"fs": fs}, entries=entries) as gw:
        client = gw.client()
        await client.initialize()
        running = client.send("tools/call", _call("fs.work", "running"))
        await fs.wait_for("tools/call")
        later = [client.send("tools/call", _call("fs.work", n)) for n in ("b", "c")]
        # One of the two waits for the slot, the other finds the queue full and is refused.
        refused = await gw.audit.wait_for(event="reply", method="tools/call")
        assert (refused.outcome, refused.error_code) == ("error", codes.OVERLOADED)
        release.set()
        replies = [await client.response(i) for i in (running, *later)]
        outcomes = [r["error"]["code"] if "error" in r else "ok" for r in replies]
        assert outcomes[0] == "ok"
        assert sorted(outcomes[1:], key=str) == sorted(["ok", codes.OVERLOADED], key=str)
        assert len(fs.of("tools/call")) == 2
