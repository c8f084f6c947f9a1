"""What authorization rules cost per call, and why the CEL library is the one it is.

    .venv/bin/python bench/rules.py [--quick]

Two parts, each timing one evaluation at a time (`time.perf_counter_ns` around each, medians
over rounds of many calls, after a warm-up):

- `library_*`: one compiled CEL condition evaluated with fresh variables, as a call brings
  them, by each CEL package that is installed: `common-expression-language` (cel-rust, the
  gateway's dependency) and `cel-python` (pure Python; `.venv/bin/pip install cel-python` to
  compare). Conditions: a path prefix and a URL host through a Python helper function.
- `engine_*`: the gateway's own decision (`policy.engine.evaluate`) on a call: with no rules
  configured (the baseline every call pays), with rules and no condition, with the path rule
  `under(args.path, "docs")`, with the host rule `glob(host(args.url), "*.example.com")`, and
  with a table of 20 rules of which one applies. `added_*` is the difference to the baseline.
- `dispatcher_*`: a `tools/call` answered by the real dispatcher and relay over an in-memory
  no-op service (the audit to a memory sink), on gateways without rules, with one rule without
  a condition, and with the path rule, batches interleaved so all see the same machine state:
  what a rule costs a whole call, audit record included.

Writes `bench/results/rules-latest.json` (and a timestamped copy). Run it by hand on an
otherwise idle machine; it is never part of the test suite.
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from micro_mcp.config.rules import RuleSpec
from micro_mcp.policy.engine import evaluate
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.policy.rules import Call, compile_rules

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import in_memory  # noqa: E402
import report  # noqa: E402

PATH_ARGS = {"path": "docs/guide/intro.md", "maxBytes": 65536}
URL_ARGS = {"url": "https://api.example.com/v1/items?page=2", "maxBytes": 65536}
ALICE = Principal("alice", Policy(), groups=frozenset({"docs-team"}))


def median_us(fn: Callable[[], object], calls: int, rounds: int) -> float:
    """The median over `rounds` of each round's median time of one `fn()` call, in us."""
    for _ in range(calls):
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


def library_figures(calls: int, rounds: int) -> dict[str, Any]:
    """One condition, compiled once, evaluated per call by each installed CEL package."""
    found: dict[str, Any] = {}
    if importlib.util.find_spec("cel") is not None:
        import cel

        def host(url: str) -> str:
            return urlsplit(url).hostname or ""

        path_rule = cel.compile('args.path.startsWith("docs/")')
        host_rule = cel.compile('host(args.url).endsWith(".example.com")')
        found["library_cel_rust_path_p50_us"] = median_us(
            lambda: path_rule.execute(cel.Context(variables={"args": dict(PATH_ARGS)})),
            calls,
            rounds,
        )
        found["library_cel_rust_host_p50_us"] = median_us(
            lambda: host_rule.execute(
                cel.Context(variables={"args": dict(URL_ARGS)}, functions={"host": host})
            ),
            calls,
            rounds,
        )
    if importlib.util.find_spec("celpy") is not None:
        import celpy
        from celpy import celtypes

        def celpy_host(url: Any) -> Any:
            return celtypes.StringType(urlsplit(str(url)).hostname or "")

        env = celpy.Environment()
        path_program = env.program(env.compile('args.path.startsWith("docs/")'))
        host_program = env.program(
            env.compile('host(args.url).endsWith(".example.com")'), functions={"host": celpy_host}
        )
        slow = max(calls // 10, 100)  # about 30x slower: fewer calls, the same rounds
        found["library_cel_python_path_p50_us"] = median_us(
            lambda: path_program.evaluate({"args": celpy.json_to_cel(dict(PATH_ARGS))}),
            slow,
            rounds,
        )
        found["library_cel_python_host_p50_us"] = median_us(
            lambda: host_program.evaluate({"args": celpy.json_to_cel(dict(URL_ARGS))}),
            slow,
            rounds,
        )
    return found


def _rules(*specs: dict[str, Any]) -> Any:
    return compile_rules(tuple(RuleSpec.model_validate(spec) for spec in specs))


def engine_figures(calls: int, rounds: int) -> dict[str, Any]:
    """The gateway's decision on one call, with and without rules."""
    unconditional = _rules({"id": "all", "effect": "allow", "tools": ["fs.*"]})
    path_rule = _rules(
        {
            "id": "docs",
            "effect": "allow",
            "groups": ["docs-team"],
            "tools": ["fs.readFileText"],
            "when": 'under(args.path, "docs")',
        }
    )
    host_rule = _rules(
        {
            "id": "hosts",
            "effect": "allow",
            "tools": ["http.fetchText"],
            "when": 'glob(host(args.url), "*.example.com")',
        }
    )
    many = _rules(
        *(
            {"id": f"other-{i}", "effect": "allow", "principals": [f"p{i}"], "tools": [f"s{i}.*"]}
            for i in range(19)
        ),
        {
            "id": "docs",
            "effect": "allow",
            "tools": ["fs.readFileText"],
            "when": 'under(args.path, "docs")',
        },
    )
    path_call, url_call = Call(PATH_ARGS), Call(URL_ARGS)
    subject = "fs.readFileText"
    assert evaluate(ALICE, subject, path_rule, "tools", path_call).allowed
    assert evaluate(ALICE, "http.fetchText", host_rule, "tools", url_call).allowed
    assert evaluate(ALICE, subject, many, "tools", path_call).allowed
    figures = {
        "engine_no_rules_p50_us": median_us(lambda: evaluate(ALICE, subject), calls, rounds),
        "engine_unconditional_p50_us": median_us(
            lambda: evaluate(ALICE, subject, unconditional, "tools", path_call), calls, rounds
        ),
        "engine_path_rule_p50_us": median_us(
            lambda: evaluate(ALICE, subject, path_rule, "tools", path_call), calls, rounds
        ),
        "engine_host_rule_p50_us": median_us(
            lambda: evaluate(ALICE, "http.fetchText", host_rule, "tools", url_call), calls, rounds
        ),
        "engine_20_rules_p50_us": median_us(
            lambda: evaluate(ALICE, subject, many, "tools", path_call), calls, rounds
        ),
    }
    base = figures["engine_no_rules_p50_us"]
    for name in ("unconditional", "path_rule", "host_rule", "20_rules"):
        figures[f"added_{name}_p50_us"] = figures[f"engine_{name}_p50_us"] - base
    return figures


async def dispatcher_figures(batches: int, size: int) -> dict[str, Any]:
    """A `tools/call` through the dispatcher without rules and with them, interleaved."""
    configs: dict[str, dict[str, Any]] = {
        "no_rules": {},
        "unconditional": {"rules": [{"id": "all", "effect": "allow", "tools": ["fs.*"]}]},
        "path_rule": {
            "rules": [
                {
                    "id": "docs",
                    "effect": "allow",
                    "tools": ["fs.read"],
                    "when": 'under(args.path, "docs")',
                }
            ]
        },
    }
    async with (
        in_memory.gateway(configs["no_rules"], ALICE, PATH_ARGS) as plain,
        in_memory.gateway(configs["unconditional"], ALICE, PATH_ARGS) as unconditional,
        in_memory.gateway(configs["path_rule"], ALICE, PATH_ARGS) as path_rule,
    ):
        calls = {"no_rules": plain, "unconditional": unconditional, "path_rule": path_rule}
        times = await in_memory.interleaved(calls, batches, size)
    return in_memory.figures(times, "no_rules")


def main() -> None:
    """Measure, print, and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    args = parser.parse_args()
    calls, rounds = (500, 3) if args.quick else (5000, 7)
    results: dict[str, Any] = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        **library_figures(calls, rounds),
        **engine_figures(calls, rounds),
        **anyio.run(dispatcher_figures, rounds * 3, calls // 5),
    }
    report.show(results)
    report.keep("rules", results)


if __name__ == "__main__":
    main()
