"""What tool pinning costs: at catalog load (hashing, judging, the store) and per call (nothing).

    .venv/bin/python bench/pinning.py [--quick]

For catalogs of N tools (each ~0.6 KB of canonical JSON: a description and an input schema of
three properties), timed with `time.perf_counter_ns`, medians over rounds:

- `judge_first_ms`: `pins.judge` on a catalog never seen (every tool hashed and approved on
  first sight); `judge_again_ms`: the same catalog against its approvals (what a `list_changed`
  or a re-read of the store costs: every tool hashed and compared);
- `build_off_ms` / `build_pin_ms`: the whole rebuild the mesh does, `Pinning.apply` plus
  `Catalog.build`, with `pinning: off` and `pin` (cached verdict: the service did not change);
- `store_record_ms` / `store_load_ms`: writing the N approvals to a fresh SQLite file, and
  reading and checking them back (the gateway does both in a worker thread, off the event loop);
- `lookup_ns`: `Catalog.tool(name)` of a listed tool in a catalog built with pinning and without:
  the only pinning-related code a call could meet. A held name is looked up only when no listed
  tool matches, so a call to a listed tool runs exactly the code it ran before pinning.

Writes `bench/results/pinning-latest.json`. Run it by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from micro_mcp.config.pinning import Mode
from micro_mcp.gateway.services.pinning import Pinning
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog
from micro_mcp.registry.pin_store import SqlitePinStore
from micro_mcp.registry.pins import canonical, judge

RESULTS = Path(__file__).parent / "results"


def _tools(n: int) -> ServiceCatalog:
    return ServiceCatalog(
        tools=tuple(
            {
                "name": f"tool_{i}",
                "description": f"Tool number {i}: reads the thing it is given and says what it "
                "found, in a sentence or two, as tools describe themselves to models.",
                "inputSchema": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Where the thing is."},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "recursive": {"type": "boolean", "default": False},
                    },
                    "required": ["path"],
                },
                "annotations": {"readOnlyHint": True},
            }
            for i in range(n)
        )
    )


def _median_ms(func: Callable[[], object], rounds: int) -> float:
    samples: list[int] = []
    func()  # warm-up
    for _ in range(rounds):
        began = time.perf_counter_ns()
        func()
        samples.append(time.perf_counter_ns() - began)
    return round(statistics.median(samples) / 1e6, 3)


def _lookup_ns(catalog: Catalog, name: str, calls: int = 200_000) -> float:
    tool = catalog.tool
    samples: list[float] = []
    for _ in range(5):
        began = time.perf_counter_ns()
        for _ in range(calls):
            tool(name)
        samples.append((time.perf_counter_ns() - began) / calls)
    return round(statistics.median(samples), 1)


def _rebuild(catalog: ServiceCatalog, mode: Mode) -> Callable[[], Catalog]:
    pinning = Pinning()
    namers = {"svc": Namer("svc")}
    services: dict[str, tuple[Mode, ServiceCatalog]] = {"svc": (mode, catalog)}

    def run() -> Catalog:
        kept, held = pinning.apply(services)
        return Catalog.build(1, namers, kept, held)

    return run


def measure(n: int, rounds: int) -> dict[str, Any]:
    """The figures for a catalog of `n` tools."""
    catalog = _tools(n)
    first = judge("svc", "pin", catalog, {})
    approved = {p.key: p for p in first.first_seen}
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(10**6))

        def record() -> None:
            SqlitePinStore(Path(tmp) / f"{next(counter)}.sqlite").record(
                "svc", first.first_seen, ()
            )

        store_record = _median_ms(record, max(3, rounds // 4))
        store = SqlitePinStore(Path(tmp) / "load.sqlite")
        store.record("svc", first.first_seen, ())
        store_load = _median_ms(store.load, max(3, rounds // 4))
    off = _rebuild(catalog, "off")
    pin = _rebuild(catalog, "pin")
    name = f"svc.tool_{n // 2}"
    return {
        "tools": n,
        "bytes_per_tool": round(statistics.mean(len(canonical("tools", t)) for t in catalog.tools)),
        "judge_first_ms": _median_ms(lambda: judge("svc", "pin", catalog, {}), rounds),
        "judge_again_ms": _median_ms(lambda: judge("svc", "pin", catalog, approved), rounds),
        "build_off_ms": _median_ms(off, rounds),
        "build_pin_ms": _median_ms(pin, rounds),
        "store_record_ms": store_record,
        "store_load_ms": store_load,
        "lookup_ns_off": _lookup_ns(off(), name),
        "lookup_ns_pin": _lookup_ns(pin(), name),
    }


def main() -> None:
    """Run the measurements and write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds and sizes")
    args = parser.parse_args()
    sizes, rounds = ((100, 1000), 5) if args.quick else ((100, 1000, 10000), 15)
    rows = [measure(n, rounds) for n in sizes]
    report = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "pinning-latest.json").write_text(json.dumps(report, indent=2) + "\n")
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()
