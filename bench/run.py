"""What the gateway costs: every scenario measured directly and through the gateway, interleaved.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...]

Prints a table and writes `bench/results/latest.json` (and a timestamped copy). Each latency
scenario keeps both paths' processes up and alternates batches of calls between them, so both
see the same machine state; a scenario's figure is the median over batches of each batch's
median (p50) or 99th percentile (p99), and a ratio's range is the spread of the batches' ratios.
Load figures (N requests in flight) alternate timed rounds the same way. Run it by hand, on an
otherwise idle machine; it is never part of the test suite.

The topologies, each against the client on the SDK service directly:
- `stdio-*`: stdio client -> gateway -> stdio service (and 8 or 32 in flight on one pipe);
- `http-sdk-*`: HTTP client -> gateway's HTTP front -> the service as the gateway's child;
- `http-url-*`: HTTP client -> gateway's HTTP front -> the service by URL (Streamable HTTP),
  the very process the direct path calls;
- `*-sdk-client`: the same with the official SDK's `Client` on both paths.
Where it applies, a third path goes through `bare_relay.py` (orjson and an id rewrite, nothing
else): what any Python hop costs, so what is above it is the gateway's own.
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
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import HttpClient, StdioClient

HERE = Path(__file__).resolve().parent
PY = sys.executable
NOOP = [PY, str(HERE / "noop_server.py")]
SDK = [PY, str(HERE / "sdk_server.py")]
BARE_RELAY = [PY, str(HERE / "bare_relay.py")]
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


Call = Callable[[], Awaitable[Any]]
"""One request on one path, awaited to its reply."""


async def _batch(call: Call, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def interleaved(
    direct: Call,
    gateway: Call,
    batches: int,
    per_batch: int,
    **others: Call,
) -> dict[str, Any]:
    """Alternate batches between the paths; p50/p99 as medians over batches, in ms.

    `others` (a bare relay, say) are measured the same way, in the same rotation, and get
    `NAME_p50_ms`, `NAME_p99_ms` and `NAME_ratio_p50` (to direct) beside the gateway's figures.
    """
    paths = {"direct": direct, "gateway": gateway, **others}
    for call in paths.values():
        await _batch(call, per_batch // 2)  # warm-up
    p50: dict[str, list[float]] = {name: [] for name in paths}
    p99: dict[str, list[float]] = {name: [] for name in paths}
    ratios: dict[str, list[float]] = {name: [] for name in paths if name != "direct"}
    for n in range(batches):
        # Each path goes first in turn: whatever the machine does in a batch's first moments
        # (a neighbour's burst, a GC) does not always land on the same path.
        names = list(paths)
        names = names[n % len(names) :] + names[: n % len(names)]
        for name in names:
            samples = await _batch(paths[name], per_batch)
            p50[name].append(statistics.median(samples))
            p99[name].append(_percentile(samples, 0.99))
        for name in ratios:
            ratios[name].append(p50[name][-1] / p50["direct"][-1])
    ms = 1000
    result: dict[str, Any] = {}
    for name in paths:
        result[f"{name}_p50_ms"] = statistics.median(p50[name]) * ms
        result[f"{name}_p99_ms"] = statistics.median(p99[name]) * ms
    result["added_p50_ms"] = result["gateway_p50_ms"] - result["direct_p50_ms"]
    result["ratio_p50"] = result["gateway_p50_ms"] / result["direct_p50_ms"]
    result["ratio_p50_range"] = [min(ratios["gateway"]), max(ratios["gateway"])]
    for name in others:
        result[f"{name}_ratio_p50"] = result[f"{name}_p50_ms"] / result["direct_p50_ms"]
        result[f"{name}_ratio_p50_range"] = [min(ratios[name]), max(ratios[name])]
    return result


async def _timed(calls: list[Call], seconds: float) -> tuple[float, list[float]]:
    """Every call in a loop of its own for `seconds`: calls per second and each call's time."""
    samples: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(call: Call) -> None:
        while (start := time.perf_counter()) < deadline:
            await call()
            samples.append(time.perf_counter() - start)

    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(worker, call)
    return len(samples) / (time.perf_counter() - began), samples


async def throughput(calls: list[Call], seconds: float) -> float:
    """Calls per second with one worker per callable, each calling in a loop."""
    return (await _timed(calls, seconds))[0]


async def loaded(paths: dict[str, list[Call]], rounds: int, seconds: float) -> dict[str, Any]:
    """Calls/s, p50 and p99 of each path under load, the paths alternating in timed rounds.

    `paths` maps a name (`direct` first) to its callers, all run at once: N callers are N
    requests in flight. Each figure is the median over rounds; a ratio is the median of the
    rounds' ratios to `direct`, with its range, since neighbours on a shared machine make single
    rounds swing.
    """
    for calls in paths.values():
        await _timed(calls, seconds / 2)  # warm-up: connections, caches, JIT-free but lazy imports
    rate: dict[str, list[float]] = {name: [] for name in paths}
    p50: dict[str, list[float]] = {name: [] for name in paths}
    p99: dict[str, list[float]] = {name: [] for name in paths}
    for n in range(rounds):
        names = list(paths)
        names = names[n % len(names) :] + names[: n % len(names)]
        for name in names:
            per_s, samples = await _timed(paths[name], seconds)
            rate[name].append(per_s)
            p50[name].append(statistics.median(samples))
            p99[name].append(_percentile(samples, 0.99))
    result: dict[str, Any] = {}
    for name in paths:
        result[f"{name}_per_s"] = statistics.median(rate[name])
        result[f"{name}_p50_ms"] = statistics.median(p50[name]) * 1000
        result[f"{name}_p99_ms"] = statistics.median(p99[name]) * 1000
        if name == "direct":
            continue
        speed = [g / d for g, d in zip(rate[name], rate["direct"], strict=True)]
        slow = [g / d for g, d in zip(p50[name], p50["direct"], strict=True)]
        result[f"{name}_ratio"] = statistics.median(speed)
        result[f"{name}_ratio_range"] = [min(speed), max(speed)]
        result[f"{name}_ratio_p50"] = statistics.median(slow)
        result[f"{name}_ratio_p50_range"] = [min(slow), max(slow)]
    return result


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


LOAD_ROUNDS = 6
"""Timed rounds per path in a load comparison."""
LOAD_SECONDS = 0.5
"""Seconds each path runs in one round of a load comparison."""


async def _loads(
    paths: dict[str, Callable[[int], Awaitable[list[Call]]]], counts: tuple[int, ...], quick: bool
) -> dict[str, Any]:
    """`loaded` at each count of callers; `paths` makes a path's N callers."""
    out: dict[str, Any] = {}
    for n in counts:
        callers = {name: await make(n) for name, make in paths.items()}
        out[str(n)] = await loaded(callers, 3 if quick else LOAD_ROUNDS, LOAD_SECONDS)
    return out


async def stdio_latency(
    work: Workdir,
    upstream: list[str],
    era: str,
    quick: bool,
    config: dict[str, Any] | None = None,
    loads: tuple[int, ...] = (),
) -> dict[str, Any]:
    """stdio client -> gateway -> stdio service, beside the client on the service directly and
    through the bare relay; then, for each of `loads`, that many requests in flight at once."""
    gateway = work.gateway({"svc": {"command": upstream[0], "args": upstream[1:]}}, config)
    relay = [*BARE_RELAY, "--", *upstream]
    async with (
        stdio(upstream, era) as direct,
        stdio(gateway, era) as through,
        stdio(relay, era) as bare,
    ):
        named = {**ECHO, "name": "svc.echo"}

        def direct_call() -> Awaitable[Any]:
            return direct.call("tools/call", ECHO)

        def gateway_call() -> Awaitable[Any]:
            return through.call("tools/call", named)

        def relay_call() -> Awaitable[Any]:
            return bare.call("tools/call", ECHO)

        result = await interleaved(
            direct_call,
            gateway_call,
            batches=5 if quick else 9,
            per_batch=300 if quick else 1000,
            relay=relay_call,
        )

        def many(call: Call) -> Callable[[int], Awaitable[list[Call]]]:
            async def make(n: int) -> list[Call]:
                return [call] * n  # one connection, n requests in flight on it

            return make

        if loads:
            paths = {"direct": many(direct_call), "gateway": many(gateway_call)}
            result["loads"] = await _loads({**paths, "relay": many(relay_call)}, loads, quick)
    return result


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
    async with stdio(NOOP, "handshake") as direct, stdio(gateway, "handshake") as through:
        named = {**ECHO, "name": "svc.echo"}

        async def direct_calls(n: int) -> list[Call]:
            return [lambda: direct.call("tools/call", ECHO)] * n

        async def gateway_calls(n: int) -> list[Call]:
            return [lambda: through.call("tools/call", named)] * n

        paths = {"direct": direct_calls, "gateway": gateway_calls}
        return {"loads": await _loads(paths, (1, 8, 32, 128), quick)}


class HttpPaths:
    """HTTP clients of one scenario's paths, each on a keep-alive connection of its own.

    Every client is closed when the scenario ends, whichever load made it.
    """

    def __init__(self, era: str) -> None:
        self.era = era
        self.clients: list[HttpClient] = []

    def callers(
        self, url: str, params: dict[str, Any], token: str | None = None
    ) -> Callable[[int], Awaitable[list[Call]]]:
        """A maker of N callers of `tools/call` with `params`, one connection each."""

        async def make(n: int) -> list[Call]:
            made = [await HttpClient.connect(url, self.era, token) for _ in range(n)]
            self.clients += made
            return [partial(client.call, "tools/call", params) for client in made]

        return make

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()


async def http_paths(
    work: Workdir,
    era: str,
    quick: bool,
    *,
    upstream: str,
    loads: tuple[int, ...] = (),
) -> dict[str, Any]:
    """HTTP client -> gateway's HTTP front -> the SDK service, beside the client on the
    service's Streamable HTTP endpoint directly.

    `upstream="stdio"`: the gateway runs the service as its child. `upstream="url"`: the
    gateway and the bare HTTP relay reach the very process the direct path calls, by URL, in
    the client's era (pinned, so both paths ask the service for the same work).
    """
    service_port, gateway_port, relay_port = _free_port(), _free_port(), _free_port()
    service_url = f"http://127.0.0.1:{service_port}/mcp"
    if upstream == "url":
        spec: dict[str, Any] = {"url": service_url, "protocol": era}
    else:
        spec = {"command": SDK[0], "args": SDK[1:]}
    gateway = work.gateway({"svc": spec}, {"token": TOKEN, "audit": {"path": os.devnull}})
    gateway += ["--transport", "http", "--port", str(gateway_port)]
    relay = [*BARE_RELAY, "--http", str(relay_port), "--upstream", service_url]
    paths = HttpPaths(era)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            listening([*SDK, "--http", str(service_port)], service_port)
        )
        await stack.enter_async_context(listening(gateway, gateway_port))
        makers = {
            "direct": paths.callers(service_url, ECHO),
            "gateway": paths.callers(
                f"http://127.0.0.1:{gateway_port}/mcp", {**ECHO, "name": "svc.echo"}, TOKEN
            ),
        }
        if upstream == "url":
            await stack.enter_async_context(listening(relay, relay_port))
            makers["relay"] = paths.callers(f"http://127.0.0.1:{relay_port}/mcp", ECHO)
        stack.push_async_callback(paths.close)
        one = {name: (await make(1))[0] for name, make in makers.items()}
        others = {name: call for name, call in one.items() if name not in ("direct", "gateway")}
        result = await interleaved(
            one["direct"],
            one["gateway"],
            batches=5 if quick else 9,
            per_batch=100 if quick else 300,
            **others,
        )
        if loads:
            result["loads"] = await _loads(makers, loads, quick)
    return result


async def http_sdk_client(work: Workdir, era: str, quick: bool, *, upstream: str) -> dict[str, Any]:
    """As `http_paths` at one caller, but with the official SDK's `Client` on both paths:
    what an application built on the SDK sees (the client's own cost, ~1.5 ms, included)."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    service_port, gateway_port = _free_port(), _free_port()
    service_url = f"http://127.0.0.1:{service_port}/mcp"
    if upstream == "url":
        spec: dict[str, Any] = {"url": service_url, "protocol": era}
    else:
        spec = {"command": SDK[0], "args": SDK[1:]}
    gateway = work.gateway({"svc": spec}, {"token": TOKEN, "audit": {"path": os.devnull}})
    gateway += ["--transport", "http", "--port", str(gateway_port)]
    mode = "auto" if era == "modern" else "legacy"
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            listening([*SDK, "--http", str(service_port)], service_port)
        )
        await stack.enter_async_context(listening(gateway, gateway_port))
        direct = await stack.enter_async_context(Client(service_url, mode=mode))
        authorized = httpx2.AsyncClient(headers={"authorization": f"Bearer {TOKEN}"})
        await stack.enter_async_context(authorized)
        transport = streamable_http_client(
            f"http://127.0.0.1:{gateway_port}/mcp", http_client=authorized
        )
        through = await stack.enter_async_context(Client(transport, mode=mode))
        return await interleaved(
            lambda: direct.call_tool("echo", ECHO["arguments"]),
            lambda: through.call_tool("svc.echo", ECHO["arguments"]),
            batches=5 if quick else 9,
            per_batch=50 if quick else 200,
        )


async def http_throughput(work: Workdir, quick: bool) -> dict[str, Any]:
    direct_port, gateway_port = _free_port(), _free_port()
    gateway = work.gateway(
        {"svc": {"command": SDK[0], "args": SDK[1:]}},
        {"token": TOKEN, "audit": {"path": os.devnull}},
    )
    gateway += ["--transport", "http", "--port", str(gateway_port)]
    paths = HttpPaths("handshake")
    async with (
        listening([*SDK, "--http", str(direct_port)], direct_port),
        listening(gateway, gateway_port),
    ):
        makers = {
            "direct": paths.callers(f"http://127.0.0.1:{direct_port}/mcp", ECHO),
            "gateway": paths.callers(
                f"http://127.0.0.1:{gateway_port}/mcp", {**ECHO, "name": "svc.echo"}, TOKEN
            ),
        }
        try:
            return {"loads": await _loads(makers, (1, 8, 32, 128), quick)}
        finally:
            await paths.close()


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
        # One token opens them all: its share of sessions is raised to fit.
        {
            "token": TOKEN,
            "audit": {"path": os.devnull},
            "http": {"maxSessionsPerPrincipal": 10_000},
        },
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
    "stdio-sdk-handshake": lambda w, q: stdio_latency(w, SDK, "handshake", q, loads=(8, 32)),
    "stdio-sdk-2026": lambda w, q: stdio_latency(w, SDK, "modern", q, loads=(8, 32)),
    "stdio-noop-1mib-result": stdio_blob,
    "http-sdk-handshake": lambda w, q: http_paths(
        w, "handshake", q, upstream="stdio", loads=(8, 32)
    ),
    "http-sdk-2026": lambda w, q: http_paths(w, "modern", q, upstream="stdio", loads=(8, 32)),
    "http-sdk-2026-sdk-client": lambda w, q: http_sdk_client(w, "modern", q, upstream="stdio"),
    "http-url-handshake": lambda w, q: http_paths(w, "handshake", q, upstream="url", loads=(8, 32)),
    "http-url-2026": lambda w, q: http_paths(w, "modern", q, upstream="url", loads=(8, 32)),
    "http-url-handshake-sdk-client": lambda w, q: http_sdk_client(
        w, "handshake", q, upstream="url"
    ),
    "http-url-2026-sdk-client": lambda w, q: http_sdk_client(w, "modern", q, upstream="url"),
    "stdio-throughput": stdio_throughput,
    "http-throughput": http_throughput,
    "catalog-10k-tools": big_catalog,
    "idle-sessions": idle_sessions,
    "flood-isolation": flood_isolation,
}


def _range(r: dict[str, Any], key: str) -> str:
    low, high = r[f"{key}_range"]
    return f"{r[key]:.2f}x ({low:.2f}-{high:.2f})"


def _table(results: dict[str, Any]) -> str:
    rows = [
        "| scenario | direct p50 | gateway p50 | added | ratio (range) | relay p50 | relay ratio "
        "| direct p99 | gateway p99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if "ratio_p50" in r:
            relay = ("- | -",)
            if "relay_p50_ms" in r:
                relay = (f"{r['relay_p50_ms']:.3f} ms | {_range(r, 'relay_ratio_p50')}",)
            rows.append(
                f"| {name} | {r['direct_p50_ms']:.3f} ms | {r['gateway_p50_ms']:.3f} ms | "
                f"{r['added_p50_ms']:+.3f} ms | {_range(r, 'ratio_p50')} | {relay[0]} | "
                f"{r['direct_p99_ms']:.3f} ms | {r['gateway_p99_ms']:.3f} ms |"
            )
    for name, r in results.items():
        if "loads" not in r:
            continue
        rows += [
            "",
            f"| {name}: in flight | path | calls/s | ratio (range) | p50 | p50 ratio (range) "
            "| p99 |",
            "|---|---|---|---|---|---|---|",
        ]
        for n, load in r["loads"].items():
            for path in ("direct", "gateway", "relay"):
                if f"{path}_per_s" not in load:
                    continue
                ratio = p50_ratio = "-"
                if path != "direct":
                    ratio, p50_ratio = (
                        _range(load, f"{path}_ratio"),
                        _range(load, f"{path}_ratio_p50"),
                    )
                rows.append(
                    f"| {n} | {path} | {load[f'{path}_per_s']:,.0f} | {ratio} | "
                    f"{load[f'{path}_p50_ms']:.3f} ms | {p50_ratio} | "
                    f"{load[f'{path}_p99_ms']:.3f} ms |"
                )
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
