"""Throughput and latency of 1, 2 and 3 gateway replicas behind HAProxy (round robin per
request, no stickiness), sharing their state on a local redis-server, for 2026-07-28
`tools/call`s of a no-op service (each replica runs its own, as a child over stdio), or with
`--era handshake` for handshake-era sessions (each client one, its requests spread over the
replicas, each adopting it from its record in Redis).

    .venv/bin/python bench/replicas.py [--quick] [--clients 16] [--seconds 10] [--era handshake]

Each client is one keep-alive connection to HAProxy making one call at a time; HAProxy spreads
the requests of every connection over the replicas. Figures: calls per second over the
measured window, and p50/p99 of each call's time, per number of replicas. Writes
`bench/results/replicas-latest.json`. Needs `redis-server` and `haproxy` (scripts/test installs
both). Run it by hand on an otherwise idle machine; it is never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import HttpClient
from run import _free_port, _percentile, listening

HERE = Path(__file__).resolve().parent
TOKEN = "bench-replicas-token-0123456789ab"


def _haproxy_config(port: int, backends: list[int]) -> str:
    servers = "".join(
        f"  server g{n} 127.0.0.1:{p} check inter 1s\n" for n, p in enumerate(backends)
    )
    return (
        "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 2s\n"
        "  timeout client 60s\n  timeout server 60s\n  retries 3\n  option redispatch 1\n"
        "  retry-on conn-failure\nfrontend mcp\n"
        f"  bind 127.0.0.1:{port}\n  default_backend gateways\nbackend gateways\n"
        "  balance roundrobin\n  option httpchk\n"
        "  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost\n" + servers
    )


@asynccontextmanager
async def _cluster(folder: Path, replicas: int, redis_port: int) -> AsyncIterator[str]:
    """`replicas` gateways and HAProxy in front of them; yields the balancer's MCP URL."""
    balancer = _free_port()
    config = {
        "token": TOKEN,
        "audit": {"path": str(folder / "audit.jsonl")},
        "state": {"redis": f"redis://127.0.0.1:{redis_port}/0"},
        "http": {"allowedHosts": [f"127.0.0.1:{balancer}"]},
    }
    manifest = {
        "mcpServers": {"noop": {"command": sys.executable, "args": [str(HERE / "noop_server.py")]}}
    }
    (folder / "discovery.json").write_text(json.dumps(manifest))
    (folder / "gateway.json").write_text(json.dumps(config))
    async with AsyncExitStack() as stack:
        ports: list[int] = []
        for _ in range(replicas):
            port = _free_port()
            argv = [
                sys.executable, "-m", "micro_mcp", "gateway", "--log-level", "warning",
                "--discovery", str(folder / "discovery.json"),
                "--config", str(folder / "gateway.json"),
                "--transport", "http", "--port", str(port),
            ]  # fmt: skip
            await stack.enter_async_context(listening(argv, port))
            ports.append(port)
        (folder / "haproxy.cfg").write_text(_haproxy_config(balancer, ports))
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        await stack.enter_async_context(
            listening([haproxy, "-db", "-f", str(folder / "haproxy.cfg")], balancer)
        )
        yield f"http://127.0.0.1:{balancer}/mcp"


async def _measure(url: str, clients: int, seconds: float, era: str) -> dict[str, Any]:
    connected = [await HttpClient.connect(url, era, TOKEN) for _ in range(clients)]
    args = {"name": "noop.echo", "arguments": {"text": "x"}}
    for client in connected:  # warm up: every replica has its service up and its catalog
        with anyio.fail_after(60):
            while "result" not in await client.call("tools/call", args):  # noqa: ASYNC110 (another process: its answer is the only signal)
                await anyio.sleep(0.1)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(client: HttpClient) -> None:
        while (start := time.perf_counter()) < deadline:
            reply = await client.call("tools/call", args)
            assert "result" in reply, reply
            samples.append(time.perf_counter() - start)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for client in connected:
            tg.start_soon(worker, client)
    elapsed = time.perf_counter() - began
    for client in connected:
        await client.stream.aclose()
    return {
        "calls_per_s": round(len(samples) / elapsed, 1),
        "p50_ms": round(_percentile(samples, 0.5) * 1000, 3),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 3),
        "calls": len(samples),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--era",
        choices=("modern", "handshake"),
        default="modern",
        help="handshake: each client one session (initialize, Mcp-Session-Id), served by every "
        "replica from its record in Redis",
    )
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    folder = Path(tempfile.mkdtemp(prefix="micro-mcp-bench-replicas-"))
    redis_port = _free_port()
    redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
    results: dict[str, Any] = {}
    async with listening(redis, redis_port):
        for replicas in (1, 2, 3):
            work = folder / str(replicas)
            work.mkdir()
            async with _cluster(work, replicas, redis_port) as url:
                results[str(replicas)] = await _measure(url, args.clients, seconds, args.era)
            print(replicas, results[str(replicas)], flush=True)
    out = {
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "clients": args.clients,
        "era": args.era,
        "seconds": seconds,
        "replicas": results,
    }
    name = "replicas-latest.json" if args.era == "modern" else f"replicas-{args.era}-latest.json"
    target = HERE / "results" / name
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(out, indent=2) + "\n")
    print("| replicas | calls/s | p50 | p99 |\n|---|---|---|---|")
    for n, r in results.items():
        print(f"| {n} | {r['calls_per_s']:,.0f} | {r['p50_ms']:.3f} ms | {r['p99_ms']:.3f} ms |")


if __name__ == "__main__":
    anyio.run(main)
