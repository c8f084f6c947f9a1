"""Tests that break things: a flooding, oversized, crashing or stopped service stays contained.

Each drives a real gateway process line by line (so the test knows its pid) over real demo
services, and ends by checking that the other service still answers and nothing leaked.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import (
    FIXTURES,
    Wire,
    alive,
    demo,
    exited,
    gateway_argv,
    http_gateway,
    http_gateway_process,
    parent_of,
    wire,
)

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MIB = 1024 * 1024


def peak_rss(pid: int) -> int:
    """The most memory the process has held (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid: int) -> dict[int, str]:
    """The child processes of `pid`, with their state letter (Z for a zombie)."""
    found: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # gone while we looked
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid:
            found[int(entry)] = state
    return found


async def call(gateway: Wire, request_id: int, name: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return await gateway.request(request_id, "tools/call", params)


def result_of(reply: dict[str, Any]) -> Any:
    assert "result" in reply, reply
    return reply["result"]["structuredContent"]["result"]


async def test_a_service_flooding_its_stdout_leaves_the_others_answering(tmp_path: Path) -> None:
    log = tmp_path / "stderr.txt"
    argv = gateway_argv(tmp_path, {"loud": demo(), "calm": demo()})
    async with wire(argv, log) as gateway:
        await gateway.initialize()
        lines = 300_000  # about 30 MB of junk
        await gateway.send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "loud.flood", "arguments": {"lines": lines}},
            }
        )
        calm = [result_of(await call(gateway, 10 + n, "calm.echo", text=str(n))) for n in range(20)]
        with anyio.fail_after(60):
            flooded = await gateway.receive()
        loud_after = result_of(await call(gateway, 2, "loud.echo", text="still me"))
    assert calm == [str(n) for n in range(20)]
    assert flooded["id"] == 1 and flooded["result"]["structuredContent"] == {"result": lines}
    assert loud_after == "still me"
    warnings = [line for line in log.read_text().splitlines() if "not JSON-RPC" in line]
    assert 1 <= len(warnings) <= 10, "the junk is reported, not logged a line at a time"


async def test_a_50_mb_line_is_refused_without_the_gateway_holding_it(tmp_path: Path) -> None:
    argv = gateway_argv(tmp_path, {"huge": demo(), "calm": demo()})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        assert result_of(await call(gateway, 1, "calm.echo", text="warm")) == "warm"
        before = peak_rss(gateway.process.pid)
        with anyio.fail_after(60):
            refused = await call(gateway, 2, "huge.big", size=50 * MIB)
        after = peak_rss(gateway.process.pid)
        calm = result_of(await call(gateway, 3, "calm.echo", text="fine"))
        small = result_of(await call(gateway, 4, "huge.big", size=1000))
    assert refused["error"]["code"] == codes.MESSAGE_TOO_LARGE
    # The default limit is 8 MiB: the gateway holds at most about that, never the 50 MB line.
    assert after - before < 24 * MIB, f"peak memory grew by {(after - before) / MIB:.1f} MiB"
    assert (calm, small) == ("fine", "x" * 1000)


async def test_a_line_with_no_end_is_bounded_and_times_out(tmp_path: Path) -> None:
    services = {"stuck": demo(toolTimeouts={"endless": 3}), "calm": demo()}
    argv = gateway_argv(tmp_path, services, {"maxMessageBytes": 4 * MIB})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        assert result_of(await call(gateway, 1, "calm.echo", text="warm")) == "warm"
        before = peak_rss(gateway.process.pid)
        with anyio.fail_after(30):
            stuck = await call(gateway, 2, "stuck.endless", size=40 * MIB, seconds=30)
        after = peak_rss(gateway.process.pid)
        calm = result_of(await call(gateway, 3, "calm.echo", text="fine"))
    assert stuck["error"]["code"] == codes.UPSTREAM_TIMEOUT
    assert after - before < 16 * MIB, f"peak memory grew by {(after - before) / MIB:.1f} MiB"
    assert calm == "fine"


async def test_sigterm_under_load_finishes_every_call_then_stops_every_service(
    tmp_path: Path,
) -> None:
    argv = gateway_argv(tmp_path, {"one": demo(), "two": demo()})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        pids = [
            result_of(await call(gateway, n, f"{ns}.pid")) for n, ns in enumerate(("one", "two"))
        ]
        for n in range(20):
            params = {"name": f"{('one', 'two')[n % 2]}.nap", "arguments": {"seconds": 1.5}}
            await gateway.send(
                {"jsonrpc": "2.0", "id": 100 + n, "method": "tools/call", "params": params}
            )
        await gateway.request(99, "ping")  # every call is in before the signal
        gateway.process.send_signal(signal.SIGTERM)
        with anyio.fail_after(20):
            replies = [await gateway.receive() for _ in range(20)]
            code = await gateway.process.wait()
    assert sorted(r["id"] for r in replies) == list(range(100, 120))
    assert all(r["result"]["structuredContent"] == {"result": "rested"} for r in replies)
    assert code == 0
    assert not any(alive(pid) for pid in pids), "no service outlives the gateway"


async def test_crashes_and_restarts_leak_no_descriptors_and_leave_no_zombies(
    tmp_path: Path,
) -> None:
    services = {"fragile": demo(restartDelay=0.1, maxRestarts=20), "calm": demo()}
    argv = gateway_argv(tmp_path, services)
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        pid = gateway.process.pid
        assert result_of(await call(gateway, 1, "fragile.echo", text="up")) == "up"
        fds_before = open_fds(pid)
        for n in range(5):
            crashed = await call(gateway, 10 + n, "fragile.crash")
            assert crashed["error"]["code"] == codes.UPSTREAM_UNAVAILABLE
            with anyio.fail_after(20):
                await gateway.log.next("service fragile: up again")
            again = await call(gateway, 20 + n, "fragile.echo", text="again")
            assert result_of(again) == "again"
        fds_after = open_fds(pid)
        kids = children(pid)
        calm = result_of(await call(gateway, 2, "calm.echo", text="fine"))
    assert fds_after <= fds_before, f"descriptors went from {fds_before} to {fds_after}"
    assert len(kids) == 2 and "Z" not in kids.values(), kids
    assert calm == "fine"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_results_up_to_the_limit_pass_intact_over_http_and_larger_ones_are_refused(
    tmp_path: Path, mode: str
) -> None:
    size = 3 * MIB  # twice on the wire (text and structured content): 6 MiB, under the 8 MiB limit
    async with http_gateway(tmp_path, {"one": demo()}) as url:
        http = httpx2.AsyncClient(timeout=60)
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            fits = await client.call_tool("one.big", {"size": size})
            with pytest.raises(MCPError) as too_big:
                await client.call_tool("one.big", {"size": 20 * MIB})
            after = await client.call_tool("one.echo", {"text": "fine"})
    assert fits.structured_content == {"result": "x" * size}
    assert too_big.value.error.code == codes.MESSAGE_TOO_LARGE
    assert after.structured_content == {"result": "fine"}


async def test_sigterm_over_http_lets_the_call_in_flight_finish(tmp_path: Path) -> None:
    async with http_gateway(tmp_path, {"one": demo()}) as url:
        http = httpx2.AsyncClient(timeout=30)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            service = await client.call_tool("one.pid", {})
            assert service.structured_content is not None
            gateway = parent_of(service.structured_content["result"])
            finished: list[Any] = []
            napping = anyio.Event()

            async def began(progress: float, total: float | None, message: str | None) -> None:
                napping.set()

            async def nap() -> None:
                result = await client.call_tool(
                    "one.nap", {"seconds": 1.5}, progress_callback=began
                )
                finished.append(result.structured_content)

            async with anyio.create_task_group() as tg:
                tg.start_soon(nap)
                with anyio.fail_after(10):
                    await napping.wait()  # the call is in flight
                os.kill(gateway, signal.SIGTERM)
        with anyio.fail_after(15):
            await exited(gateway)
    assert finished == [{"result": "rested"}]


def nested(depth: int) -> Any:
    """A value `depth` levels deep, objects and arrays taking turns."""
    value: Any = "bottom"
    for level in range(depth):
        value = {"d": value} if level % 2 else [value]
    return value


def replies_without_calls(audit: Path) -> tuple[set[str], int]:
    """Correlation ids of the audit trail's replies that have no call; how many tool calls."""
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = {r["correlation_id"] for r in records if r["event"] == "call"}
    replies = {r["correlation_id"] for r in records if r["event"] == "reply"}
    tools = sum(r["event"] == "call" and r["method"] == "tools/call" for r in records)
    return replies - calls, tools


async def test_arguments_nested_too_deep_are_refused_with_the_request_id_over_stdio(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    argv = gateway_argv(tmp_path, {"one": demo()}, {"audit": {"path": str(audit)}})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        params = {"name": "one.echo", "arguments": {"text": nested(300)}}
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        await gateway.send_raw(json.dumps(message).encode() + b"\n")  # orjson cannot write it
        deep = await gateway.receive()
        barely = await call(gateway, 2, "one.echo", text=nested(40))
        fine = result_of(await call(gateway, 3, "one.echo", text="fine"))
    assert deep["id"] == 1 and deep["error"]["code"] == codes.INVALID_PARAMS
    assert barely["id"] == 2 and "result" in barely  # within the limit: on to the service
    assert fine == "fine"
    assert replies_without_calls(audit) == (set(), 2)


async def test_arguments_nested_too_deep_are_refused_with_the_request_id_over_http(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    modern: dict[str, Any] = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    async with (
        http_gateway(tmp_path, {"one": demo()}, {"audit": {"path": str(audit)}}) as url,
        httpx2.AsyncClient(timeout=30) as http,
    ):
        headers = {**accept, "Mcp-Method": "tools/call", "Mcp-Name": "one.echo"}
        headers["MCP-Protocol-Version"] = "2026-07-28"
        replies = []
        for request_id, text in ((7, nested(300)), (8, "fine")):
            params = {"_meta": modern, "name": "one.echo", "arguments": {"text": text}}
            message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
            replies.append(await http.post(url, content=json.dumps(message), headers=headers))
    deep, fine = replies
    assert deep.status_code == 400
    assert deep.json()["id"] == 7 and deep.json()["error"]["code"] == codes.INVALID_PARAMS
    assert fine.json()["result"]["structuredContent"] == {"result": "fine"}
    assert replies_without_calls(audit) == (set(), 1)


INFO = {"name": "test", "version": "1"}
HUNG = """
import json, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
for line in sys.stdin:
    message = json.loads(line)
    if "id" not in message or "method" not in message:
        continue
    answer = {"error": {"code": -32601, "message": "no"}}
    if message["method"] == "initialize":
        version = message["params"]["protocolVersion"]
        info = {"name": "hung", "version": "1"}
        answer = {"result": {"protocolVersion": version, "capabilities": {}, "serverInfo": info}}
    print(json.dumps({"jsonrpc": "2.0", "id": message["id"], **answer}), flush=True)
time.sleep(600)  # its input is closed, but a hung service does not notice
"""
"""A service that answers its handshake and then ignores everything: EOF, SIGTERM."""


def kill_all(pids: Iterable[int]) -> None:
    """SIGKILL whatever a failed test left running."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def wait_for_text(path: Path, text: str) -> None:
    """Wait until the gateway over HTTP has logged `text` (its log is a file: polled)."""
    file = anyio.Path(path)
    with anyio.fail_after(20):
        while text not in await file.read_text():  # noqa: ASYNC110 - another process writes it
            await anyio.sleep(0.05)


async def post_events(
    http: httpx2.AsyncClient, url: str, message: dict[str, Any], headers: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """POST `message` and yield what comes back: each SSE event with data, or the one JSON
    reply."""
    async with http.stream("POST", url, json=message, headers=headers) as response:
        if response.headers["content-type"].startswith("application/json"):
            yield json.loads(await response.aread())
            return
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line[6:].strip():  # a priming event has no data
                yield json.loads(line[6:])


def napping(seconds: float) -> dict[str, Any]:
    """`tools/call` params for one.nap, with a progress token: the nap's first progress says the
    call has reached the service."""
    return {"name": "one.nap", "arguments": {"seconds": seconds}, "_meta": {"progressToken": "p"}}


async def test_sigterm_over_http_drains_stops_every_service_and_exits_0(tmp_path: Path) -> None:
    services = {"one": demo(), "hung": {"command": "python", "args": ["-c", HUNG]}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": INFO},
    }
    async with (
        http_gateway_process(tmp_path, services) as (url, gateway),
        httpx2.AsyncClient(timeout=30) as http,
    ):
        await wait_for_text(tmp_path / "gateway-http.log", "gateway ready")
        kids = children(gateway.pid)
        try:
            opened = await http.post(url, json=initialize, headers=headers)
            headers["Mcp-Session-Id"] = opened.headers["mcp-session-id"]
            initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
            await http.post(url, json=initialized, headers=headers)
            replies: list[Any] = []
            ends: list[str] = []
            in_flight = anyio.Event()

            async def listen() -> None:  # the session's GET stream, open until the drain ends it
                listening = {**headers, "Accept": "text/event-stream"}
                try:
                    async with http.stream("GET", url, headers=listening) as stream:
                        async for _ in stream.aiter_lines():
                            pass
                    ends.append("ended")
                except httpx2.RemoteProtocolError:
                    ends.append("cut off")

            async def call() -> None:
                message = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": napping(2)}
                async for event in post_events(http, url, message, headers):
                    if event.get("method") == "notifications/progress":
                        in_flight.set()
                    elif event.get("id") == 2:
                        replies.append(event)

            with anyio.fail_after(30):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(listen)
                    tg.start_soon(call)
                    await in_flight.wait()
                    gateway.send_signal(signal.SIGTERM)
                code = await gateway.wait()
            outlived = [pid for pid in kids if alive(pid)]
        finally:
            kill_all(kids)
    assert len(kids) == 2
    assert [r["result"]["structuredContent"] for r in replies] == [{"result": "rested"}]
    assert (code, outlived, ends) == (0, [], ["ended"]), "no service outlives the gateway"


async def test_a_second_sigterm_over_http_stops_at_once_and_still_stops_every_service(
    tmp_path: Path,
) -> None:
    services = {"one": demo(), "hung": {"command": "python", "args": ["-c", HUNG]}}
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": "p",
    }
    params = {**napping(60), "_meta": meta}
    headers = {
        "Accept": "application/json, text/event-stream",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "one.nap",
        "MCP-Protocol-Version": "2026-07-28",
    }
    log = tmp_path / "gateway-http.log"
    async with (
        http_gateway_process(tmp_path, services) as (url, gateway),
        httpx2.AsyncClient(timeout=90) as http,
    ):
        await wait_for_text(log, "gateway ready")
        kids = children(gateway.pid)
        try:
            in_flight = anyio.Event()

            async def call() -> None:
                message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
                with contextlib.suppress(httpx2.RemoteProtocolError):  # cut off: expected
                    async for _ in post_events(http, url, message, headers):
                        in_flight.set()

            with anyio.fail_after(15):  # well before the 60 s nap or the 30 s drain limit
                async with anyio.create_task_group() as tg:
                    tg.start_soon(call)
                    await in_flight.wait()
                    gateway.send_signal(signal.SIGTERM)
                    await wait_for_text(log, "finishing the calls")
                    gateway.send_signal(signal.SIGTERM)
                code = await gateway.wait()
            outlived = [pid for pid in kids if alive(pid)]
        finally:
            kill_all(kids)
    assert len(kids) == 2
    assert (code, outlived) == (0, [])


def descendants(pid: int) -> list[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    found = list(children(pid))
    for child in list(found):
        found += descendants(child)
    return found


def command_of(pid: int) -> str:
    """A process's command line, for messages."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan nobody has reaped yet is gone for this purpose)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_services_die_with_a_gateway_killed_with_sigkill(tmp_path: Path) -> None:
    services = {"one": demo(), "hung": {"command": "python", "args": ["-c", HUNG]}}
    if shutil.which("bwrap") is not None:  # in a sandbox, what a service spawns dies too
        services["boxed"] = demo(sandbox={"readOnly": [str(FIXTURES)]})
    argv = gateway_argv(tmp_path, services)
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        if "boxed" in services:
            result_of(await call(gateway, 1, "boxed.spawn"))  # a grandchild: `sleep 120`
        below = {pid: command_of(pid) for pid in descendants(gateway.process.pid)}
        try:
            gateway.process.kill()
            with anyio.move_on_after(10):
                for pid in below:
                    await exited(pid)
            left = [command for pid, command in below.items() if running(pid)]
        finally:
            kill_all(below)
    assert len(below) >= len(services)
    assert left == [], "these outlived the gateway"
