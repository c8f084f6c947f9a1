"""What a rate-limit check adds to a call: in-memory counters (and, with `--redis`, a local
redis-server).

    .venv/bin/python bench/rate_limits.py [--quick] [--redis]

Two measures, in this process on asyncio (the gateway's loop):
- `check`: `RateLimits.check` alone, per call, for each strategy, with one rule that applies
  (per principal) and with four rules of which two apply (a group rule and a per-tool rule
  count, two others are matched and skipped). Windows are far larger than the calls made, so
  every check is an allowed call (the hot path), never a refusal. The loop gets a turn between
  checks (untimed), as in a gateway, where the memory store's expiry task then runs.
- `dispatcher`: a `tools/call` answered by the real dispatcher and relay over an in-memory
  no-op service, on a gateway without limits and one with a single rule, batches interleaved
  so both see the same machine state; the added cost is the difference of the medians.

Figures are the median over batches of each batch's p50 (and p99), in microseconds. Writes
`bench/results/rate-limits-latest.json`. Run it by hand on an otherwise idle machine; it is
never part of the test suite.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel

from micro_mcp.config.rate_limits import RateLimitsSpec
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry.recorder import Recorder

sys.path.insert(0, str(Path(__file__).resolve().parent))
import in_memory
import report as bench_report

HERE = Path(__file__).resolve().parent
STRATEGIES = ("fixed-window", "sliding-window-counter", "moving-window")
ROUTE = Route(namespace="fs", name="read", subject="fs.read")
PRINCIPAL = Principal("alice", Policy(), groups=frozenset({"agents"}))
ONE_RULE = [{"id": "each", "rate": "1000000000/day"}]
FOUR_RULES = [
    {"id": "bob", "rate": "10/minute", "principals": ["bob"]},
    {"id": "agents", "rate": "1000000000/day", "groups": ["agents"]},
    {"id": "http", "rate": "10/minute", "subjects": ["http.*"]},
    {
        "id": "fs-tools",
        "rate": "1000000000/hour",
        "subjects": ["fs.*"],
        "per": ["principal", "name"],
    },
]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _summary(batches: list[list[float]]) -> dict[str, float]:
    """Median over batches of each batch's p50 and p99, in microseconds."""
    return {
        "p50_us": statistics.median(_percentile(b, 0.5) for b in batches) * 1e6,
        "p99_us": statistics.median(_percentile(b, 0.99) for b in batches) * 1e6,
    }


async def _deliver(message: jsonrpc.Message, related: jsonrpc.RequestId | None) -> None:
    pass


def _exchange(client: ClientSession) -> Exchange:
    return Exchange(client, 1, "tools/call", {}, 0.0, 1)


async def measure_check(
    rules: list[dict[str, Any]], strategy: str, storage: str, batches: int, size: int
) -> dict[str, float]:
    """`RateLimits.check` per call, for allowed calls."""
    spec = RateLimitsSpec.model_validate({"rules": rules, "strategy": strategy, "storage": storage})
    client = ClientSession(_deliver, PRINCIPAL)
    results: list[list[float]] = []
    async with RateLimits.open(spec, Recorder()) as limits:
        assert limits is not None
        for _ in range(size):  # warm: keys made, code paths hot
            await limits.check(_exchange(client), ROUTE)
        for _ in range(batches):
            batch: list[float] = []
            for _ in range(size):
                ex = _exchange(client)
                start = time.perf_counter()
                await limits.check(ex, ROUTE)
                batch.append(time.perf_counter() - start)
                # Let the loop run, as a gateway's does between calls: the library's in-memory
                # store spawns a task to expire keys once the previous one has run.
                await anyio.lowlevel.checkpoint()
            results.append(batch)
    return _summary(results)


async def measure_dispatcher(batches: int, size: int) -> dict[str, Any]:
    """A `tools/call` through the dispatcher without and with one rule, interleaved."""
    limited_config = {"rateLimits": {"rules": ONE_RULE}}
    async with (
        in_memory.gateway({}, PRINCIPAL, {}) as without,
        in_memory.gateway(limited_config, PRINCIPAL, {}) as with_,
    ):
        times = await in_memory.interleaved({"without": without, "with": with_}, batches, size)
    paths = {name: [[t / 1e9 for t in batch] for batch in got] for name, got in times.items()}
    without_s, with_s = _summary(paths["without"]), _summary(paths["with"])
    ratios = [
        (_percentile(w, 0.5) - _percentile(o, 0.5)) * 1e6
        for o, w in zip(paths["without"], paths["with"], strict=True)
    ]
    return {
        "without": without_s,
        "with": with_s,
        "added_p50_us": with_s["p50_us"] - without_s["p50_us"],
        "added_p50_us_range": [min(ratios), max(ratios)],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def redis_server() -> AsyncIterator[str]:
    """A local redis-server on a free port, without persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--redis needs redis-server (Debian package redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as folder:
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        process = await anyio.open_process([*argv, "--dir", folder], stdout=subprocess.DEVNULL)
        try:
            with anyio.fail_after(10):
                while True:  # another process: connecting is the only signal it gives
                    try:
                        await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                        break
                    except OSError:
                        await anyio.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            await process.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches, for a smoke run")
    parser.add_argument("--redis", action="store_true", help="also against a local redis-server")
    args = parser.parse_args()
    batches, size = (5, 500) if args.quick else (21, 2000)
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "batches": batches,
        "batch_size": size,
        "check": {},
    }
    for strategy in STRATEGIES:
        for label, rules in (("1 rule", ONE_RULE), ("4 rules, 2 apply", FOUR_RULES)):
            figure = await measure_check(rules, strategy, "memory://", batches, size)
            results["check"][f"memory {strategy}, {label}"] = figure
            print(
                f"check  memory {strategy:<24} {label:<18} "
                f"p50 {figure['p50_us']:6.1f} us  p99 {figure['p99_us']:6.1f} us"
            )
    if args.redis:
        async with redis_server() as url:
            for strategy in STRATEGIES:
                figure = await measure_check(ONE_RULE, strategy, url, batches, size // 4)
                results["check"][f"redis {strategy}, 1 rule"] = figure
                print(
                    f"check  redis  {strategy:<24} {'1 rule':<18} "
                    f"p50 {figure['p50_us']:6.1f} us  p99 {figure['p99_us']:6.1f} us"
                )
    dispatched = await measure_dispatcher(batches, size)
    results["dispatcher"] = dispatched
    low, high = dispatched["added_p50_us_range"]
    print(
        f"tools/call through the dispatcher: p50 {dispatched['without']['p50_us']:.1f} us "
        f"without limits, {dispatched['with']['p50_us']:.1f} us with one rule: "
        f"+{dispatched['added_p50_us']:.1f} us (batches {low:+.1f} .. {high:+.1f})"
    )
    bench_report.keep("rate-limits", results)


if __name__ == "__main__":
    anyio.run(main)
