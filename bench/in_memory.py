"""A gateway in this process over an in-memory service, for the micro-benchmarks that time one
`tools/call` through the dispatcher under different configs (rules, rate limits, guardrails):
no sockets, no child processes, so what differs between configs is all that is measured."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson

from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.memory import Inbox, Outbox, memory_connector

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "b"}}
OK = {"content": [{"type": "text", "text": "ok"}]}

Call = Callable[[], Awaitable[None]]


def tool_service(called: dict[str, Any] = OK) -> Callable[[Inbox, Outbox], Awaitable[None]]:
    """A handshake-era service with one tool, `read`, that answers `called`."""

    async def serve(inbox: Inbox, outbox: Outbox) -> None:
        tools = {"tools": [{"name": "read", "inputSchema": {"type": "object"}}]}
        async for raw in inbox:
            message = orjson.loads(raw)
            if "id" not in message or "method" not in message:
                continue
            method = message["method"]
            if method == "initialize":
                result: dict[str, Any] = {
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "bench", "version": "0"},
                }
            else:
                result = tools if method == "tools/list" else called
            reply = {"jsonrpc": "2.0", "id": message["id"], "result": result}
            await outbox.send(orjson.dumps(reply))

    return serve


async def _deliver(message: jsonrpc.Message, related: jsonrpc.RequestId | None) -> None:
    pass


@asynccontextmanager
async def gateway(
    config: dict[str, Any],
    principal: Principal,
    arguments: dict[str, Any],
    called: dict[str, Any] = OK,
) -> AsyncIterator[Call]:
    """A gateway with `config` over the service as `fs`; yields a function making one
    `tools/call` of `fs.read` with `arguments`, as `principal`."""
    manifest = Manifest.model_validate(
        {"mcpServers": {"fs": {"command": "in-memory", "protocol": "handshake"}}}
    )
    gateway_config = GatewayConfig.model_validate(config)
    mesh = Mesh(manifest, gateway_config, Path("."), memory_connector({"fs": tool_service(called)}))
    recorder = Recorder()
    async with (
        RateLimits.open(gateway_config.rate_limits, recorder) as limits,
        anyio.create_task_group() as tg,
    ):
        dispatcher = Dispatcher(mesh, MemoryAuditSink(), recorder, limits)
        await tg.start(mesh.run)
        await mesh.started.wait()
        client = ClientSession(_deliver, principal)
        mesh.clients.add(client)
        await dispatcher.handle_request(client, jsonrpc.request(0, "initialize", INIT))
        call = jsonrpc.request(1, "tools/call", {"name": "fs.read", "arguments": arguments})

        async def one() -> None:
            await dispatcher.handle_request(client, dict(call))

        yield one
        tg.cancel_scope.cancel()


async def interleaved(
    calls: dict[str, Call], batches: int, size: int
) -> dict[str, list[list[int]]]:
    """Each call's times (nanoseconds), `batches` batches of `size` calls, the calls taking
    turns batch by batch (after a warm-up of `size` each), so a change in the machine's load
    falls on all of them alike."""
    for call in calls.values():
        for _ in range(size):
            await call()
    times: dict[str, list[list[int]]] = {name: [] for name in calls}
    for _ in range(batches):
        for name, call in calls.items():
            batch: list[int] = []
            for _ in range(size):
                start = time.perf_counter_ns()
                await call()
                batch.append(time.perf_counter_ns() - start)
            times[name].append(batch)
    return times


def figures(times: dict[str, list[list[int]]], baseline: str) -> dict[str, Any]:
    """Each call's p50 (microseconds, the median of its batches' medians), and what each adds
    to `baseline`'s, batch by batch: the median and the range over batches."""
    samples = {n: [statistics.median(b) / 1000 for b in batches] for n, batches in times.items()}
    result: dict[str, Any] = {
        f"dispatcher_{n}_p50_us": statistics.median(v) for n, v in samples.items()
    }
    for name in samples:
        if name == baseline:
            continue
        added = [w - o for o, w in zip(samples[baseline], samples[name], strict=True)]
        result[f"dispatcher_added_{name}_p50_us"] = statistics.median(added)
        result[f"dispatcher_added_{name}_range_us"] = [min(added), max(added)]
    return result
