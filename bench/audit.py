"""What the tamper-evident audit trail costs per record, and each fsync policy.

    .venv/bin/python bench/audit.py [--quick] [--dir DIR]

A call writes two records (`call` and `reply`), so a call pays twice the per-record figures.
Parts, each the median over rounds of per-operation time (`time.perf_counter_ns` around a
batch), after a warm-up:

- `serialize`: `AuditEvent.to_json()` alone, what every record cost before the chain.
- `seal_chain` / `seal_chain_hmac`: the hash chain on top (SHA-256 of the line), and with the
  record MAC (HMAC-SHA256) too.
- `digest_sha256` / `digest_hmac`: the argument fingerprint, plain (before) and keyed (now).
- `redact_line`: one service stderr line through `micro_mcp.redaction` (most lines hold no
  secret; a fifth here do).
- `jsonl_never` / `jsonl_interval` / `jsonl_always`: `JsonlSink.emit` + `settle` on a file in
  `--dir` (default: `.cache/bench-audit` on the project's disk), one writer at a time;
  `jsonl_always_x16` has 16 writers waiting together (group commit: one fsync shared).
- `sqlite_normal` / `sqlite_full`: the SQLite sink with `synchronous` NORMAL and FULL.

Writes `bench/results/audit-latest.json` (and a timestamped copy). Run it by hand on an
otherwise idle machine; it is never part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from micro_mcp.audit.chain import Chain
from micro_mcp.audit.events import AuditEvent, fingerprint
from micro_mcp.audit.jsonl import Fsync, JsonlSink
from micro_mcp.audit.keys import from_key
from micro_mcp.audit.sqlite import SqliteSink
from micro_mcp.redaction import redact

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report as bench_report

HERE = Path(__file__).resolve().parent
EVENT = AuditEvent(
    "reply",
    1764500000.123,
    "123456",
    "alice",
    "tools/call",
    name="fs.readFile",
    service="fs",
    outcome="ok",
    duration_ms=1.234,
)
ARGUMENTS = {"path": "docs/guide/intro.md", "maxBytes": 65536}
LINES = [
    "INFO serving 12 tools",
    "fetched https://example.com/a in 12 ms",
    "token=ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 refreshed",
    "cache hit ratio 0.93",
    "wrote 4096 bytes to /data/out.bin",
]


def per_op(fn: Callable[[], object], ops: int, rounds: int) -> float:
    """Median microseconds per call of `fn` over `rounds` batches of `ops`."""
    for _ in range(ops):
        fn()
    samples: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(ops):
            fn()
        samples.append((time.perf_counter_ns() - start) / ops / 1000)
    return statistics.median(samples)


async def per_op_async(fn: Callable[[], Awaitable[object]], ops: int, rounds: int) -> float:
    """`per_op` for a coroutine function."""
    samples: list[float] = []
    for _ in range(rounds + 1):
        start = time.perf_counter_ns()
        for _ in range(ops):
            await fn()
        samples.append((time.perf_counter_ns() - start) / ops / 1000)
    return statistics.median(samples[1:])


async def grouped(sink: JsonlSink, writers: int, ops: int, rounds: int) -> float:
    """Microseconds per record with `writers` tasks each emitting and waiting in turn."""
    samples: list[float] = []
    for _ in range(rounds + 1):

        async def writer() -> None:
            for _ in range(ops // writers):
                sink.emit(EVENT)
                await sink.settle()

        start = time.perf_counter_ns()
        async with anyio.create_task_group() as tg:
            for _ in range(writers):
                tg.start_soon(writer)
        samples.append((time.perf_counter_ns() - start) / (ops // writers * writers) / 1000)
    return statistics.median(samples[1:])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--dir", default=str(HERE.parent / ".cache" / "bench-audit"))
    args = parser.parse_args()
    ops, rounds = (200, 5) if args.quick else (2000, 15)
    io_ops, io_rounds = (50, 3) if args.quick else (300, 7)
    keys = from_key(b"bench-key-0123456789abcdef")
    plain, signed = Chain(), Chain(key=keys.record)
    results: dict[str, float] = {
        "serialize": per_op(EVENT.to_json, ops, rounds),
        "seal_chain": per_op(lambda: plain.seal(EVENT.to_json()[:-1]), ops, rounds),
        "seal_chain_hmac": per_op(lambda: signed.seal(EVENT.to_json()[:-1]), ops, rounds),
        "digest_sha256": per_op(lambda: fingerprint(ARGUMENTS), ops, rounds),
        "digest_hmac": per_op(lambda: keys.digest(ARGUMENTS), ops, rounds),
        "redact_line": per_op(lambda: [redact(line) for line in LINES], ops, rounds) / len(LINES),
    }
    folder = Path(args.dir)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    try:
        policies: tuple[Fsync, ...] = ("never", "interval", "always")
        for policy in policies:
            sink = JsonlSink(str(folder / f"{policy}.jsonl"), key=keys.record, fsync=policy)

            async def one(sink: JsonlSink = sink) -> None:
                sink.emit(EVENT)
                await sink.settle()

            results[f"jsonl_{policy}"] = await per_op_async(one, io_ops, io_rounds)
            sink.close()
        sink = JsonlSink(str(folder / "group.jsonl"), key=keys.record, fsync="always")
        results["jsonl_always_x16"] = await grouped(sink, 16, io_ops * 4, io_rounds)
        sink.close()
        for durable in (False, True):
            db = SqliteSink(str(folder / f"audit-{durable}.db"), key=keys.record, durable=durable)
            name = "sqlite_full" if durable else "sqlite_normal"
            results[name] = per_op(lambda db=db: db.emit(EVENT), io_ops, io_rounds)
            db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report: dict[str, Any] = {
        "unit": "microseconds per record (median)",
        "machine": f"{platform.machine()} {platform.processor()} {platform.python_version()}",
        "results": {k: round(v, 2) for k, v in results.items()},
    }
    print(json.dumps(report, indent=2))
    bench_report.keep("audit", report)


if __name__ == "__main__":
    anyio.run(main)
