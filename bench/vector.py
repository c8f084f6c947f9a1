"""How the vector service scales: add and search rates at 10k and 100k documents.

    .venv/bin/python bench/vector.py [--quick] [--sizes N ...] [--dense]

The corpus is synthetic but shaped like text: a 50,000-word vocabulary drawn with Zipf's law
(exponent 1.07, so a few words are everywhere and most are rare), document lengths
log-normal around 120 words, and metadata with a skewed `source` (20 values) and a `year`.
Queries come in three kinds: `typical` (three words of a random document, skipping the 50
most common words), `stopwords` (two of the 20 most common words and one content word: the
worst case, whose posting lists span most documents), and `filtered` (typical, restricted to
one `source`, about 5% of the documents).

For each size it measures, in this process: adding every document (memory, then a SQLite
file), reopening the file (the index is rebuilt from it), and search latency per query kind.
Then it starts `python -m micro_mcp.services.vector --db FILE` and times its start, its memory
(RSS) and `search` calls over stdio with the lean client of `bench/clients.py`, so the figure
includes MCP and JSON. With
`--dense`, it also times the MiniLM encoder and `semanticSearch` over as many vectors.

Writes `bench/results/vector-latest.json` (and a timestamped copy). Run it by hand on an
otherwise idle machine; it is never part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# As the service sets for itself (see its __main__), before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report as bench_report
from clients import StdioClient

from micro_mcp.services.vector.database import Database
from micro_mcp.services.vector.store import EmbeddingSpace, VectorStore

HERE = Path(__file__).resolve().parent
VOCABULARY = 50_000
ZIPF_EXPONENT = 1.07
SOURCES = 20
QUERIES = 300


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- corpus ---------------------------------------------------------------------------------


def vocabulary(rng: np.random.Generator) -> list[str]:
    """Distinct pronounceable pseudo-words, most frequent first."""
    onsets = ["", "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "st", "tr"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    codas = ["", "n", "r", "s", "t", "l", "nd", "st"]
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < VOCABULARY:
        syllables = int(rng.integers(1, 4))
        word = "".join(
            onsets[rng.integers(len(onsets))]
            + vowels[rng.integers(len(vowels))]
            + codas[rng.integers(len(codas))]
            for _ in range(syllables)
        )
        if word not in seen:
            seen.add(word)
            words.append(word)
    # Common words are short, as in real text.
    return sorted(words, key=len)


def corpus(
    size: int, rng: np.random.Generator, words: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """`size` documents: Zipf-distributed words, log-normal lengths, skewed metadata."""
    ranks = np.arange(1, VOCABULARY + 1, dtype=np.float64)
    weights = ranks**-ZIPF_EXPONENT
    lengths = np.clip(rng.lognormal(mean=np.log(120), sigma=0.6, size=size), 5, 2000).astype(int)
    drawn = rng.choice(VOCABULARY, size=int(lengths.sum()), p=weights / weights.sum())
    source_weights = np.arange(1, SOURCES + 1, dtype=np.float64) ** -1.0
    sources = rng.choice(SOURCES, size=size, p=source_weights / source_weights.sum())
    years = rng.integers(2000, 2026, size=size)
    docs = []
    start = 0
    for index, length in enumerate(lengths):
        text = " ".join(words[w] for w in drawn[start : start + length])
        start += length
        docs.append(
            (text.capitalize() + ".", {"source": f"s{sources[index]}", "year": int(years[index])})
        )
    return docs


def queries(
    docs: list[tuple[str, dict[str, Any]]], rng: np.random.Generator, words: list[str]
) -> dict[str, list[tuple[str, dict[str, Any] | None]]]:
    """The three query kinds, QUERIES of each."""
    common = set(words[:50])
    kinds: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
        "typical": [],
        "stopwords": [],
        "filtered": [],
    }
    while len(kinds["typical"]) < QUERIES:
        text, _ = docs[int(rng.integers(len(docs)))]
        content = sorted({w for w in text.lower().rstrip(".").split() if w not in common})
        if len(content) < 3:
            continue
        picked = [content[i] for i in rng.choice(len(content), size=3, replace=False)]
        kinds["typical"].append((" ".join(picked), None))
        stop = [words[int(i)] for i in rng.choice(20, size=2, replace=False)]
        kinds["stopwords"].append((" ".join([*stop, picked[0]]), None))
        # s4 holds ~5% of the documents under the 1/rank source weights.
        kinds["filtered"].append((" ".join(picked), {"source": "s4"}))
    return kinds


# --- measurements ---------------------------------------------------------------------------


def timed_adds(store: VectorStore, docs: list[tuple[str, dict[str, Any]]]) -> dict[str, float]:
    """Add every document; the overall rate, and the rate over the last 10%."""
    tail = max(1, len(docs) // 10)
    start = time.perf_counter()
    for index, (text, metadata) in enumerate(docs):
        if index == len(docs) - tail:
            tail_start = time.perf_counter()
        store.add(text, id=f"d{index}", metadata=metadata)
    end = time.perf_counter()
    return {
        "docs_per_s": len(docs) / (end - start),
        "last_10pct_docs_per_s": tail / (end - tail_start),
        "seconds": end - start,
    }


def timed_searches(
    search: Callable[[str, dict[str, Any] | None], object],
    qs: list[tuple[str, dict[str, Any] | None]],
) -> dict[str, float]:
    """Latency of each query (after a warm-up), as p50/p99 in ms and queries per second."""
    for query, where in qs[:20]:
        search(query, where)
    samples = []
    for query, where in qs:
        start = time.perf_counter()
        search(query, where)
        samples.append(time.perf_counter() - start)
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": _percentile(samples, 0.99) * 1000,
        "queries_per_s": len(samples) / sum(samples),
    }


async def over_stdio(db: Path, qs: list[tuple[str, dict[str, Any] | None]]) -> dict[str, float]:
    """Start the service on `db`; time its start and `search` calls over stdio."""
    argv = [sys.executable, "-m", "micro_mcp.services.vector", "--db", str(db)]
    async with anyio.create_task_group() as tg:
        started = time.perf_counter()
        client = await StdioClient.start(argv, "handshake", tg)
        ready = time.perf_counter() - started
        rss_mib = _rss_kib(client.process.pid) / 1024
        try:

            async def call(query: str, where: dict[str, Any] | None) -> None:
                arguments: dict[str, Any] = {"query": query, "k": 10}
                if where:
                    arguments["where"] = where
                reply = await client.call("tools/call", {"name": "search", "arguments": arguments})
                assert not reply["result"].get("isError"), reply

            for query, where in qs[:20]:
                await call(query, where)
            samples = []
            for query, where in qs:
                start = time.perf_counter()
                await call(query, where)
                samples.append(time.perf_counter() - start)
        finally:
            await client.close()
            tg.cancel_scope.cancel()
    return {
        "start_s": ready,
        "server_rss_mib": rss_mib,
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": _percentile(samples, 0.99) * 1000,
    }


def dense(
    size: int, docs: list[tuple[str, dict[str, Any]]], rng: np.random.Generator
) -> dict[str, Any]:
    """Encoder speed on real documents; semanticSearch over `size` vectors."""
    from micro_mcp.services.vector.encoder import Encoder, default_model_dir

    encoder = Encoder(default_model_dir())
    sample = [text for text, _ in docs[:100]]
    encoder.encode(sample[:5])
    start = time.perf_counter()
    encoder.encode(sample)
    encode_rate = len(sample) / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(50):
        encoder.encode(["three word query"])
    query_ms = (time.perf_counter() - start) / 50 * 1000
    # Search cost does not depend on the values, so random unit vectors stand in for real
    # embeddings, which would take size / encode_rate seconds to compute.
    store = VectorStore(embeddings=EmbeddingSpace("random", encoder.dimension), max_documents=size)
    vectors = rng.standard_normal((size, encoder.dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for index, (text, metadata) in enumerate(docs):
        store.add(text, id=f"d{index}", metadata=metadata, vector=vectors[index])
    probes = [(vectors[int(i)], None) for i in rng.integers(size, size=QUERIES)]
    search = timed_searches(lambda v, w: store.semantic_search(v, 10, where=w), probes)  # type: ignore[arg-type]
    store.close()
    return {"encode_docs_per_s": encode_rate, "encode_query_ms": query_ms, "search": search}


async def measure(size: int, work: Path, with_dense: bool) -> dict[str, Any]:
    rng = np.random.default_rng(size)
    words = vocabulary(rng)
    docs = corpus(size, rng, words)
    qs = queries(docs, rng, words)
    result: dict[str, Any] = {
        "documents": size,
        "mean_words": statistics.fmean(len(text.split()) for text, _ in docs),
    }
    print(f"\n{size:,} documents, {result['mean_words']:.0f} words each on average", flush=True)

    memory = VectorStore(max_documents=size)
    result["add_memory"] = timed_adds(memory, docs)
    print(f"  add (memory):     {result['add_memory']['docs_per_s']:,.0f} docs/s", flush=True)
    result["search"] = {}
    for kind, kind_queries in qs.items():
        figures = timed_searches(lambda q, w: memory.search(q, 10, where=w), kind_queries)
        result["search"][kind] = figures
        print(
            f"  search {kind:<10} p50 {figures['p50_ms']:.2f} ms  p99 {figures['p99_ms']:.2f} ms"
            f"  {figures['queries_per_s']:,.0f}/s",
            flush=True,
        )
    memory.close()

    db = work / f"vectors-{size}.db"
    on_disk = VectorStore(Database(db), max_documents=size)
    result["add_file"] = timed_adds(on_disk, docs)
    on_disk.close()
    print(f"  add (SQLite file): {result['add_file']['docs_per_s']:,.0f} docs/s", flush=True)
    start = time.perf_counter()
    VectorStore(Database(db), max_documents=size).close()
    result["reopen_s"] = time.perf_counter() - start
    result["file_mib"] = db.stat().st_size / 2**20
    print(
        f"  reopen (rebuild index): {result['reopen_s']:.2f} s, file {result['file_mib']:.0f} MiB"
    )

    result["stdio"] = {}
    for kind in ("typical", "stopwords"):
        result["stdio"][kind] = figures = await over_stdio(db, qs[kind])
        print(
            f"  stdio search {kind:<10} p50 {figures['p50_ms']:.2f} ms"
            f"  p99 {figures['p99_ms']:.2f} ms  (server ready in {figures['start_s']:.1f} s,"
            f" {figures['server_rss_mib']:.0f} MiB)",
            flush=True,
        )
    if with_dense:
        result["dense"] = figures = dense(size, docs, rng)
        print(
            f"  dense: encode {figures['encode_docs_per_s']:.0f} docs/s, a query"
            f" {figures['encode_query_ms']:.1f} ms; semantic search p50"
            f" {figures['search']['p50_ms']:.2f} ms",
            flush=True,
        )
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k documents only")
    parser.add_argument("--sizes", type=int, nargs="+", help="corpus sizes (default 10k 100k)")
    parser.add_argument("--dense", action="store_true", help="also time the embedding mode")
    args = parser.parse_args()
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [10_000, 100_000])
    with tempfile.TemporaryDirectory(prefix="micro-mcp-vector-bench-") as work:
        results = [await measure(size, Path(work), args.dense) for size in sizes]
    report = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "numpy": np.__version__,
        },
        "results": results,
    }
    bench_report.keep("vector", report)


if __name__ == "__main__":
    anyio.run(main)
