"""What the gateway costs: every scenario measured directly and through the gateway, interleaved.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...]

Prints a table and writes `bench/results/latest.json` (and a timestamped copy). Each latency
scenario keeps both paths' processes up and alternates batches of calls between them, so both
see the same machine state; a scenario's figure is the median over batches of each batch's
median (p50) or 99th percentile (p99). Run it by hand, on an otherwise idle machine; it is never
part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import HttpClient, StdioClient

HERE = Path(__file__).resolve().parent
PY = sys.executable
NOOP = [PY, str(HERE / "noop_server.py")]
SDK = [PY, str(HERE / "sdk_server.py")]
TOKEN = "bench-token-0123456789abcdef"
ECHO = {"name": "echo", "arguments": {"text": "hello"}}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Workdir:
    """Manifests and configs for the gateways a run starts."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="micro-mcp-bench-"))
        self._count = 0

    def gateway(self, services: dict[str, Any], config: dict[str, Any] | None = None) -> list[str]:
        self._count += 1
        manifest = self.path / f"discovery{self._count}.json"
        manifest.write_text(json.dumps({"mcpServers": services}))
        argv = [
            PY,
            "-m",
            "micro_mcp",
            "gateway",
            "--discovery",
            str(manifest),
            "--log-level",
            "warning",
        ]
        config = {"audit": {"path": os.devnull}} if config is None else config
        config_file = self.path / f"config{self._count}.json"
        config_file.write_text(json.dumps(config))
        return [*argv, "--config", str(config_file)]


# --- measurement loops ----------------------------------------------------------------------


async def _batch(call: Callable[[], Awaitable[Any]], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def interleaved(
    direct: Callable[[], Awaitable[Any]],
    gateway: Callable[[], Awaitable[Any]],
    batches: int,
    per_batch: int,
) -> dict[str, Any]:
    """Alternate batches between the two paths; p50/p99 as medians over batches, in ms."""
    await _batch(direct, per_batch // 2)  # warm-up
    await _batch(gateway, per_batch // 2)
    d50, d99, g50, g99 = [], [], [], []
    for _ in range(batches):
        d = await _batch(direct, per_batch)
        g = await _batch(gateway, per_batch)
        d50.append(statistics.median(d))
        d99.append(_percentile(d, 0.99))
        g50.append(statistics.median(g))
        g99.append(_percentile(g, 0.99))
    ms = 1000
    result = {
        "direct_p50_ms": statistics.median(d50) * ms,
        "direct_p99_ms": statistics.median(d99) * ms,
        "gateway_p50_ms": statistics.median(g50) * ms,
        "gateway_p99_ms": statistics.median(g99) * ms,
    }
    result["added_p50_ms"] = result["gateway_p50_ms"] - result["direct_p50_ms"]
    result["ratio_p50"] = result["gateway_p50_ms"] / result["direct_p50_ms"]
    return result


async def throughput(calls: list[Callable[[], Awaitable[Any]]], seconds: float) -> float:
    """Calls per second with one worker per callable, each calling in a loop."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(call: Callable[[], Awaitable[Any]]) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(worker, call)
    return done / (time.perf_counter() - start)


# --- servers ----------------------------------------------------------------------------------


@asynccontextmanager
async def stdio(argv: list[str], era: str):  # type: ignore[no-untyped-def]
    async with anyio.create_task_group() as tg:
        client = await StdioClient.start(argv, era, tg)
        try:
            yield client
        finally:
            await client.close()
            tg.cancel_scope.cancel()


@asynccontextmanager
async def listening(argv: list[str], port: int):  # type: ignore[no-untyped-def]
    process = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with anyio.fail_after(60):
            while True:
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    await anyio.sleep(0.05)
        yield process
    finally:
        process.terminate()
        with anyio.move_on_after(10):
            await process.wait()
        await process.aclose()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- scenarios ----------------------------------------------------------------------------------


async def stdio_latency(
    work: Workdir, upstream: list[str], era: str, quick: bool, config: dict[str, Any] | None = None
) -> dict[str, Any]:
    gateway = work.gateway({"svc": {"command": upstream[0], "args": upstream[1:]}}, config)
    async with stdio(upstream, era) as direct, stdio(gateway, era) as through:
        named = {**ECHO, "name": "svc.echo"}
        return await interleaved(
            lambda: direct.call("tools/call", ECHO),
            lambda: through.call("tools/call", named),
            batches=5 if quick else 9,
            per_batch=300 if quick else 1000,
        )


async def stdio_blob(work: Workdir, quick: bool) -> dict[str, Any]:
    gateway = work.gateway({"svc": {"command": NOOP[0], "args": NOOP[1:]}})
    blob = {"name": "blob", "arguments": {}}
    async with stdio(NOOP, "handshake") as direct, stdio(gateway, "handshake") as through:
        return await interleaved(
            lambda: direct.call("tools/call", blob),
            lambda: through.call("tools/call", {**blob, "name": "svc.blob"}),
            batches=5,
            per_batch=20 if quick else 60,
        )


async def stdio_throughput(work: Workdir, quick: bool) -> dict[str, Any]:
    gateway = work.gateway({"svc": {"command": NOOP[0], "args": NOOP[1:]}})
    out: dict[str, Any] = {}
    async with stdio(NOOP, "handshake") as direct, stdio(gateway, "handshake") as through:
        for n in (1, 8, 32, 128):
            seconds = 1.0 if quick else 2.0
            d = await throughput([lambda: direct.call("tools/call", ECHO)] * n, seconds)
            g = await throughput(
                [lambda: through.call("tools/call", {**ECHO, "name": "svc.echo"})] * n, seconds
            )
            out[str(n)] = {"direct_per_s": d, "gateway_per_s": g, "ratio": g / d}
    return out


async def http_latency(work: Workdir, era: str, quick: bool) -> dict[str, Any]:
    direct_port, gateway_port = _free_port(), _free_port()
    gateway = work.gateway(
        {"svc": {"command": SDK[0], "args": SDK[1:]}},
        {"token": TOKEN, "audit": {"path": os.devnull}},
    )
    gateway += ["--transport", "http", "--port", str(gateway_port)]
    async with (
        listening([*SDK, "--http", str(direct_port)], direct_port),
        listening(gateway, gateway_port),
    ):
        direct = await HttpClient.connect(f"http://127.0.0.1:{direct_port}/mcp", era)
        through = await HttpClient.connect(f"http://127.0.0.1:{gateway_port}/mcp", era, TOKEN)
        try:
            return await interleaved(
                lambda: direct.call("tools/call", ECHO),
                lambda: through.call("tools/call", {**ECHO, "name": "svc.echo"}),
                batches=5,
                per_batch=100 if quick else 300,
            )
        finally:
            await direct.close()
            await through.close()


async def http_throughput(work: Workdir, quick: bool) -> dict[str, Any]:
    direct_port, gateway_port = _free_port(), _free_port()
    gateway = work.gateway(
        {"svc": {"command": SDK[0], "args": SDK[1:]}},
        {"token": TOKEN, "audit": {"path": os.devnull}},
    )
    gateway += ["--transport", "http", "--port", str(gateway_port)]
    out: dict[str, Any] = {}
    async with (
        listening([*SDK, "--http", str(direct_port)], direct_port),
        listening(gateway, gateway_port),
    ):
        for n in (1, 8, 32, 128):
            directs = [
                await HttpClient.connect(f"http://127.0.0.1:{direct_port}/mcp", "handshake")
                for _ in range(n)
            ]
            throughs = [
                await HttpClient.connect(f"http://127.0.0.1:{gateway_port}/mcp", "handshake", TOKEN)
                for _ in range(n)
            ]
            seconds = 1.5 if quick else 3.0
            d = await throughput([lambda c=c: c.call("tools/call", ECHO) for c in directs], seconds)
            g = await throughput(
                [lambda c=c: c.call("tools/call", {**ECHO, "name": "svc.echo"}) for c in throughs],
                seconds,
            )
            out[str(n)] = {"direct_per_s": d, "gateway_per_s": g, "ratio": g / d}
            for client in directs + throughs:
                await client.close()
    return out


async def big_catalog(work: Workdir, quick: bool) -> dict[str, Any]:
    services = 20 if quick else 100
    noop = {"command": NOOP[0], "args": [*NOOP[1:], "--tools", "97"]}  # + echo, blob, hang
    gateway = work.gateway({f"s{n}": noop for n in range(services)})
    start = time.perf_counter()
    async with stdio(gateway, "handshake") as client:  # initialize waits for every service
        ready = time.perf_counter() - start
        timings, total = [], 0
        for _ in range(10):
            t0 = time.perf_counter()
            cursor, total = None, 0
            while True:
                page = await client.call("tools/list", {"cursor": cursor} if cursor else {})
                total += len(page["result"]["tools"])
                cursor = page["result"].get("nextCursor")
                if cursor is None:
                    break
            timings.append(time.perf_counter() - t0)
    return {
        "services": services,
        "tools": total,
        "startup_s": ready,
        "tools_list_ms": statistics.median(timings) * 1000,
    }


async def idle_sessions(work: Workdir, quick: bool) -> dict[str, Any]:
    count = 200 if quick else 1000
    port = _free_port()
    gateway = work.gateway(
        {"svc": {"command": NOOP[0], "args": NOOP[1:]}},
        {"token": TOKEN, "audit": {"path": os.devnull}},
    )
    gateway += ["--transport", "http", "--port", str(port)]
    async with listening(gateway, port) as process:
        warm = await HttpClient.connect(f"http://127.0.0.1:{port}/mcp", "handshake", TOKEN)
        await warm.call("tools/list", {})
        await warm.close()
        before = rss_kib(process.pid)
        for _ in range(count):
            client = await HttpClient.connect(f"http://127.0.0.1:{port}/mcp", "handshake", TOKEN)
            await client.close()  # the connection goes; the session stays, idle
        await anyio.sleep(0.5)
        after = rss_kib(process.pid)
    return {
        "sessions": count,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "per_session_kib": (after - before) / count,
    }


FLOODS = (
    ("busy 500/s", "busy.echo", 500),
    ("stuck 500/s", "stuck.hang", 500),
    ("busy max", "busy.echo", 0),
    ("stuck max", "stuck.hang", 0),
)


async def flood_isolation(work: Workdir, quick: bool) -> dict[str, Any]:
    """One service flooded from another process; the latency of a second service, called alone.

    Two flooded services, `busy` and `stuck`, beside `calm`, whose latency is measured. The
    flood comes from another process over 32 connections, at 500 calls/s or as fast as the
    connections go (`max`). `busy`: a fast tool, so the gateway relays every call it can.
    `stuck`: a tool that never answers; the bulkhead (8 running, 8 queued) turns the rest away
    at once, and the breaker opens after the timeouts. "Refused" counts both.
    """
    port = _free_port()
    noop = {"command": NOOP[0], "args": NOOP[1:]}
    flooded = {**noop, "maxConcurrent": 8, "maxQueued": 8, "timeout": 1.0}
    gateway = work.gateway(
        {"calm": noop, "busy": flooded, "stuck": flooded},
        {"token": TOKEN, "audit": {"path": os.devnull}},
    )
    gateway += ["--transport", "http", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/mcp"
    per_batch = 300 if quick else 1000
    probe_call = {**ECHO, "name": "calm.echo"}
    out: dict[str, Any] = {}
    async with listening(gateway, port):
        probe = await HttpClient.connect(url, "handshake", TOKEN)

        async def measure() -> dict[str, float]:
            await _batch(lambda: probe.call("tools/call", probe_call), per_batch // 5)
            samples = await _batch(lambda: probe.call("tools/call", probe_call), per_batch)
            return {
                "p50_ms": statistics.median(samples) * 1000,
                "p99_ms": _percentile(samples, 0.99) * 1000,
            }

        out["unloaded"] = await measure()
        for name, tool, rate in FLOODS:
            argv = [PY, str(HERE / "flood.py"), url, TOKEN, tool, "32", str(rate)]
            flood = await anyio.open_process(argv, stderr=subprocess.PIPE)
            assert flood.stderr is not None and flood.stdout is not None
            await flood.stderr.receive()  # "flooding": every connection is up
            started = time.perf_counter()
            await anyio.sleep(1.0)
            measured = await measure()
            flood.terminate()
            seconds = time.perf_counter() - started
            printed = b""
            async for chunk in flood.stdout:
                printed += chunk
            counts = json.loads(printed)
            await flood.wait()
            await flood.aclose()
            out[name] = {
                **measured,
                "ratio_p50": measured["p50_ms"] / out["unloaded"]["p50_ms"],
                "ratio_p99": measured["p99_ms"] / out["unloaded"]["p99_ms"],
                "flood_rate": rate or "max",
                "flood_answered_per_s": counts["answered"] / seconds,
                "flood_refused_per_s": (counts["overloaded"] + counts["other_errors"]) / seconds,
            }
        await probe.close()
    return out


SCENARIOS: dict[str, Callable[[Workdir, bool], Awaitable[dict[str, Any]]]] = {
    "stdio-noop-handshake": lambda w, q: stdio_latency(w, NOOP, "handshake", q),
    "stdio-noop-2026": lambda w, q: stdio_latency(w, NOOP, "modern", q),
    "stdio-noop-policy-audit": lambda w, q: stdio_latency(
        w,
        NOOP,
        "handshake",
        q,
        {
            "policy": {"allow": ["svc.*"], "deny": ["svc.blob"]},
            "audit": {"path": str(w.path / "audit.jsonl")},
        },
    ),
    "stdio-sdk-handshake": lambda w, q: stdio_latency(w, SDK, "handshake", q),
    "stdio-sdk-2026": lambda w, q: stdio_latency(w, SDK, "modern", q),
    "stdio-noop-1mib-result": stdio_blob,
    "http-sdk-handshake": lambda w, q: http_latency(w, "handshake", q),
    "http-sdk-2026": lambda w, q: http_latency(w, "modern", q),
    "stdio-throughput": stdio_throughput,
    "http-throughput": http_throughput,
    "catalog-10k-tools": big_catalog,
    "idle-sessions": idle_sessions,
    "flood-isolation": flood_isolation,
}


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| scenario | direct p50 | gateway p50 | added | ratio | direct p99 | gateway p99 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "ratio_p50" in r:
            rows.append(
                f"| {name} | {r['direct_p50_ms']:.3f} ms | {r['gateway_p50_ms']:.3f} ms | "
                f"{r['added_p50_ms']:+.3f} ms | {r['ratio_p50']:.2f}x | "
                f"{r['direct_p99_ms']:.3f} ms | {r['gateway_p99_ms']:.3f} ms |"
            )
    for name in ("stdio-throughput", "http-throughput"):
        if name in results:
            rows += [
                "",
                f"| {name}: callers | direct calls/s | gateway calls/s | ratio |",
                "|---|---|---|---|",
            ]
            for n, r in results[name].items():
                direct, through = f"{r['direct_per_s']:,.0f}", f"{r['gateway_per_s']:,.0f}"
                rows.append(f"| {n} | {direct} | {through} | {r['ratio']:.2f}x |")
    if "catalog-10k-tools" in results:
        r = results["catalog-10k-tools"]
        rows += [
            "",
            f"catalog: {r['services']} stdio services, {r['tools']} tools: ready in "
            f"{r['startup_s']:.2f} s; merged tools/list (all pages) {r['tools_list_ms']:.1f} ms",
        ]
    if "idle-sessions" in results:
        r = results["idle-sessions"]
        rows.append(
            f"idle HTTP sessions: {r['sessions']}: {r['per_session_kib']:.1f} KiB each "
            f"(RSS {r['rss_before_kib']} -> {r['rss_after_kib']} KiB)"
        )
    if "flood-isolation" in results:
        r = results["flood-isolation"]
        rows += [
            "",
            "| flood-isolation: the other service's latency | p50 | p99 | ratio p50 | ratio p99 "
            "| flood answered/s | flood refused/s |",
            "|---|---|---|---|---|---|---|",
            f"| unloaded | {r['unloaded']['p50_ms']:.3f} ms | {r['unloaded']['p99_ms']:.3f} ms "
            "| 1.00x | 1.00x | - | - |",
        ]
        for name, _tool, _rate in FLOODS:
            f = r[name]
            rows.append(
                f"| {name} | {f['p50_ms']:.3f} ms | "
                f"{f['p99_ms']:.3f} ms | {f['ratio_p50']:.2f}x | {f['ratio_p99']:.2f}x | "
                f"{f['flood_answered_per_s']:,.0f} | {f['flood_refused_per_s']:,.0f} |"
            )
    return "\n".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), help="run just these")
    args = parser.parse_args()
    work = Workdir()
    results: dict[str, Any] = {}
    for name in args.only or SCENARIOS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = await SCENARIOS[name](work, args.quick)
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }
    print(_table(results))
    print(f"\nmachine: {machine}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    document = json.dumps(
        {"machine": machine, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": results},
        indent=2,
    )
    (out / "latest.json").write_text(document)
    (out / f"{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(document)


if __name__ == "__main__":
    anyio.run(main)
