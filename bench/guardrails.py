"""What each guardrail costs per call, on a typical tool result.

    .venv/bin/python bench/guardrails.py [--quick]

The typical result: a `tools/call` result of ~2 KB, a text item (a few dozen lines of a file
listing and prose, as fs and http services return) and the same rows as structured content
(30 objects of four fields), no secret and no PII in it (the common case); then the same with
an AWS key, an e-mail address and a phone number in it (what a finding costs).

- `pipeline_*`: `Pipeline.scan` of the result by one check alone (`secrets`, `pii`,
  `injection`) and by all three, in process: p50 over rounds of many scans, after a warm-up.
- `dispatcher_*`: a `tools/call` answered by the real dispatcher and relay over an in-memory
  service returning that result (audit to a memory sink), without guardrails and with each
  one on the result, batches interleaved so all see the same machine state; `added_*` is the
  p50 difference to no guardrails (what a check adds to a whole call, thread hop included for
  `pii`, which always scans in a worker thread).

Writes `bench/results/guardrails-latest.json` (and a timestamped copy). Run it by hand on an
otherwise idle machine; it is never part of the test suite.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import orjson

from micro_mcp.config.guardrails import GuardrailsSpec
from micro_mcp.guardrails.pipeline import Pipeline
from micro_mcp.policy.model import Policy, Principal

sys.path.insert(0, str(Path(__file__).resolve().parent))
import in_memory
import report

HERE = Path(__file__).resolve().parent
ALICE = Principal("alice", Policy())
KINDS = ("secrets", "pii", "injection")


def typical_result(leaky: bool = False) -> dict[str, Any]:
    """A ~2 KB tool result: rows as text and as structured content."""
    rows = [
        {
            "path": f"reports/2026/q{i % 4 + 1}/summary-{i:03d}.md",
            "size": 1024 + 37 * i,
            "modified": f"2026-0{i % 9 + 1}-1{i % 9}T10:2{i % 6}:00Z",
            "owner": "analytics",
        }
        for i in range(30)
    ]
    text = "Found 30 files under reports/. The largest were updated this quarter.\n" + "\n".join(
        f"{r['path']}\t{r['size']} bytes\t{r['modified']}" for r in rows
    )
    if leaky:
        text += "\ncontact: jane.doe@example.com, +1 415-555-0132, key AKIAIOSFODNN7EXAMPLE"
    return {"content": [{"type": "text", "text": text}], "structuredContent": {"rows": rows}}


def median_us(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """The median over `rounds` of each round's median time of one `fn()` call, in us."""
    for _ in range(max(calls // 10, 5)):
        fn()
    medians: list[float] = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        samples: list[int] = []
        for _ in range(calls):
            start = clock()
            fn()
            samples.append(clock() - start)
        medians.append(statistics.median(samples))
    return statistics.median(medians) / 1000


def pipeline_figures(calls: int, rounds: int) -> dict[str, Any]:
    """One scan of the typical result by each check, clean and with findings."""
    figures: dict[str, Any] = {}
    for label, kinds in [*((k, (k,)) for k in KINDS), ("all", KINDS)]:
        spec = GuardrailsSpec.model_validate({"checks": [{"use": k} for k in kinds]})
        pipeline = Pipeline.from_spec(spec)
        checks = pipeline.applicable("result", "fs.read")
        n = calls // 20 if "pii" in kinds else calls  # Presidio: milliseconds a scan
        for state, result in (("clean", typical_result()), ("leaky", typical_result(True))):
            figures[f"pipeline_{label}_{state}_p50_us"] = median_us(
                lambda p=pipeline, c=checks, r=result: p.scan("result", c, r), n, rounds
            )
    figures["typical_result_bytes"] = len(orjson.dumps(typical_result()))
    return figures


async def dispatcher_figures(batches: int, size: int) -> dict[str, Any]:
    """A `tools/call` through the dispatcher without guardrails and with each, interleaved."""
    configs: dict[str, dict[str, Any]] = {"none": {}} | {
        kind: {"guardrails": {"checks": [{"use": kind, "on": ["result"]}]}} for kind in KINDS
    }
    result, arguments = typical_result(), {"path": "r"}
    async with (
        in_memory.gateway(configs["none"], ALICE, arguments, result) as none,
        in_memory.gateway(configs["secrets"], ALICE, arguments, result) as secrets,
        in_memory.gateway(configs["pii"], ALICE, arguments, result) as pii,
        in_memory.gateway(configs["injection"], ALICE, arguments, result) as injection,
    ):
        calls = {"none": none, "secrets": secrets, "pii": pii, "injection": injection}
        times = await in_memory.interleaved(calls, batches, size)
    return in_memory.figures(times, "none")


def main() -> None:
    """Measure, print, and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args = parser.parse_args()
    calls, rounds = (200, 3) if args.quick else (2000, 5)
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **pipeline_figures(calls, rounds),
        **anyio.run(dispatcher_figures, rounds * 2, calls // 20),
    }
    report.show(results)
    report.keep("guardrails", results)


if __name__ == "__main__":
    main()
