"""Unit tests of the vector store: its indexes, filters, SQLite record and compaction."""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp.services.vector.database import SCHEMA_VERSION, Database
from micro_mcp.services.vector.errors import StoreError
from micro_mcp.services.vector.filters import Scalar
from micro_mcp.services.vector.sparse import SparseIndex, tokenize, word_counts
from micro_mcp.services.vector.store import (
    SNIPPET_CHARS,
    EmbeddingSpace,
    PendingEmbedding,
    VectorStore,
)

WORDS = ["alpha", "beta", "gamma", "delta", "eps"]


def brute_force_cosine(query: str, text: str) -> float:
    """The cosine of two texts' word-count vectors, computed the obvious way."""
    q, d = Counter(tokenize(query)), Counter(tokenize(text))
    dot = sum(n * d[t] for t, n in q.items())
    norms = math.sqrt(sum(n * n for n in q.values())) * math.sqrt(sum(n * n for n in d.values()))
    return dot / norms


def test_tokens_are_lowercased_unicode_words() -> None:
    assert tokenize("Hello, WORLD! Café_2 naïve") == ["hello", "world", "café_2", "naïve"]


def test_score_is_the_cosine_of_word_count_vectors() -> None:
    store = VectorStore()
    store.add("red red blue", id="a")

    [same] = store.search("RED, red; BLUE!", k=1)
    [partial] = store.search("blue green", k=1)

    assert same.score == 1.0
    # (2,1,0)·(0,1,1) / (√5 · √2)
    assert partial.score == pytest.approx(1 / math.sqrt(10), abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(
        st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join),
        min_size=1,
        max_size=25,
    ),
    deletions=st.sets(st.integers(0, 24)),
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
    k=st.integers(1, 30),
)
def test_ranking_matches_a_brute_force_scan(
    texts: list[str], deletions: set[int], query: str, k: int
) -> None:
    store = VectorStore()
    for index, text in enumerate(texts):
        store.add(text, id=f"d{index}")
    for index in deletions & set(range(len(texts))):
        store.delete(f"d{index}")
    live = [(f"d{i}", t) for i, t in enumerate(texts) if i not in deletions]

    hits = store.search(query, k)

    expected = [(doc_id, brute_force_cosine(query, text)) for doc_id, text in live]
    # Best first; Python's sort is stable, so equal scores keep insertion order.
    expected = sorted((e for e in expected if e[1] > 0), key=lambda e: -round(e[1], 6))[:k]
    assert [h.id for h in hits] == [doc_id for doc_id, _ in expected]
    assert [h.score for h in hits] == pytest.approx([score for _, score in expected], abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(
    texts=st.lists(
        st.lists(st.sampled_from([*WORDS, "zeta", "eta", "theta"]), min_size=1, max_size=12).map(
            " ".join
        ),
        min_size=1,
        max_size=30,
    ),
    split=st.integers(0, 30),
    query=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join),
)
def test_bulk_loading_scores_like_adding_one_by_one(
    texts: list[str], split: int, query: str
) -> None:
    counts = [word_counts(text) for text in texts]
    one_by_one, bulk = SparseIndex(), SparseIndex()
    for row, document in enumerate(counts):
        one_by_one.add(row, document)
    bulk.add_many(counts[:split])
    bulk.add_many(counts[split:])

    np.testing.assert_allclose(
        bulk.scores(word_counts(query)), one_by_one.scores(word_counts(query))
    )
    assert len(bulk) == len(one_by_one)


def test_a_reopened_store_answers_like_the_live_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vocabulary = [f"w{i}" for i in range(300)]
    path = tmp_path / "v.db"
    live = VectorStore(Database(path))
    for index in range(12_000):  # enough to load in several batches, with churn to compact
        words = rng.choice(vocabulary, size=int(rng.integers(1, 30)))
        collection = "odd" if index % 2 else "default"
        live.add(" ".join(words), id=f"d{index % 5000}", collection=collection)
    queries = [" ".join(rng.choice(vocabulary, size=3)) for _ in range(20)]
    expected = {
        (q, c): live.search(q, 10, collection=c) for q in queries for c in ("default", "odd")
    }
    live.close()

    reopened = VectorStore(Database(path))

    assert reopened.collections() == {"default": 2500, "odd": 2500}
    for (query, collection), hits in expected.items():
        assert reopened.search(query, 10, collection=collection) == hits
    reopened.close()


def test_ties_keep_insertion_order_also_when_k_cuts_through_them() -> None:
    store = VectorStore()
    store.add("other words same", id="weaker")
    for index in range(8):
        store.add("same words", id=f"d{index}")

    hits = store.search("same words", k=3)

    assert [h.id for h in hits] == ["d0", "d1", "d2"]


def test_a_replaced_document_moves_to_the_end_of_the_insertion_order() -> None:
    store = VectorStore()
    for doc_id in ("a", "b", "c"):
        store.add("same", id=doc_id)
    store.add("same", id="a")

    assert [h.id for h in store.search("same", k=3)] == ["b", "c", "a"]


def test_long_texts_get_a_cut_snippet_with_whitespace_collapsed() -> None:
    store = VectorStore()
    store.add("word\n\n  " * 200, id="long")

    [hit] = store.search("word", k=1)

    assert len(hit.snippet) == SNIPPET_CHARS
    assert hit.snippet.startswith("word word ")
    assert hit.snippet.endswith("…")


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"lang": "en"}, ["en1", "en2"]),
        ({"lang": ["de", "fr"]}, ["de", "fr"]),
        ({"lang": "en", "year": 2024}, ["en1"]),
        ({"year": 2024.0}, ["en1", "de"]),  # JSON numbers: 2024 equals 2024.0
        ({"draft": True}, ["fr"]),  # true is not 1
        ({"draft": 1}, ["int1"]),
        ({"note": None}, ["de"]),  # null matches an explicit null only
        ({"missing": "x"}, []),
        ({"lang": []}, []),
    ],
)
def test_metadata_filters(where: dict[str, Scalar | list[Scalar]], expected: list[str]) -> None:
    store = VectorStore()
    docs: dict[str, dict[str, Scalar]] = {
        "en1": {"lang": "en", "year": 2024},
        "en2": {"lang": "en", "year": 2025},
        "de": {"lang": "de", "year": 2024, "note": None},
        "fr": {"lang": "fr", "draft": True},
        "int1": {"lang": "xx", "draft": 1},
    }
    for doc_id, metadata in docs.items():
        store.add("shared text", id=doc_id, metadata=metadata)

    hits = store.search("shared", k=10, where=where)

    assert [h.id for h in hits] == expected


def test_a_filter_ignores_the_metadata_of_a_replaced_document() -> None:
    store = VectorStore()
    store.add("text", id="a", metadata={"tag": "old"})
    store.add("text", id="a", metadata={"tag": "new"})

    assert store.search("text", k=5, where={"tag": "old"}) == []
    assert [h.metadata for h in store.search("text", k=5, where={"tag": "new"})] == [{"tag": "new"}]


def test_collections_are_separate_and_the_default_always_exists() -> None:
    store = VectorStore()
    store.add("apples", id="x", collection="fruit")
    store.add("apples too", id="x")

    assert store.collections() == {"default": 1, "fruit": 1}
    assert [h.snippet for h in store.search("apples", k=5, collection="fruit")] == ["apples"]
    assert store.drop("default") == 1
    assert store.collections() == {"default": 0, "fruit": 1}
    assert store.drop("fruit") == 1
    with pytest.raises(StoreError, match="no collection named 'fruit'"):
        store.search("apples", k=5, collection="fruit")


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b", "x" * 65, "tab\n"])
def test_invalid_collection_names_are_refused(name: str) -> None:
    with pytest.raises(StoreError, match="invalid collection name"):
        VectorStore().add("text", collection=name)


def test_delete_unknown_document_or_collection_is_an_error() -> None:
    store = VectorStore()
    with pytest.raises(StoreError, match="no document with id 'nope'"):
        store.delete("nope")
    with pytest.raises(StoreError, match="no collection named 'nope'"):
        store.delete("x", collection="nope")
    with pytest.raises(StoreError, match="no collection named 'nope'"):
        store.drop("nope")


def test_limit_counts_documents_over_all_collections() -> None:
    store = VectorStore(max_documents=2)
    store.add("one", id="a")
    store.add("two", id="a", collection="other")

    with pytest.raises(StoreError, match="store is full"):
        store.add("three", id="b", collection="third")
    store.add("replacement", id="a", collection="other")  # replacing stays allowed
    store.delete("a")
    store.add("three", id="b", collection="third")
    assert len(store) == 2


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_metadata_numbers_are_refused(value: float) -> None:
    store = VectorStore()
    with pytest.raises(StoreError, match="finite"):
        store.add("x", metadata={"v": value})
    assert len(store) == 0


def test_k_below_one_is_refused() -> None:
    with pytest.raises(StoreError, match="k must be at least 1"):
        VectorStore().search("x", k=0)


def test_churn_compacts_the_index_and_keeps_results_right() -> None:
    store = VectorStore()
    for round_ in range(6):
        for index in range(1000):
            store.add(f"common word{index} round{round_}", id=f"d{index}")

    hits = store.search("word7 round5", k=3)

    assert len(store) == 1000
    assert [h.id for h in hits][:1] == ["d7"]
    # Without compaction, 6 rounds would leave 6000 rows; dead rows never outnumber
    # max(1024, live ones) by construction.
    collection = store._collections["default"]  # pyright: ignore[reportPrivateUsage]
    assert len(collection.ids) <= 2 * 1000 + 1024
    assert len(collection.sparse) <= 1000 + 6 + 1


def test_documents_persist_in_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "vectors.db"
    store = VectorStore(Database(path))
    store.add("kept across restarts", id="a", metadata={"n": 1}, collection="notes")
    store.add("deleted before the restart", id="b", collection="notes")
    store.add("replaced text", id="c", collection="notes")
    store.add("final text kept", id="c", collection="notes")
    store.delete("b", collection="notes")
    store.close()

    reopened = VectorStore(Database(path))
    hits = reopened.search("kept text", k=5, collection="notes")

    assert reopened.collections() == {"default": 0, "notes": 2}
    assert [(h.id, h.metadata) for h in hits] == [("c", {}), ("a", {"n": 1})]
    reopened.close()


def test_a_file_in_use_by_another_server_is_refused(tmp_path: Path) -> None:
    first = Database(tmp_path / "v.db")
    try:
        with pytest.raises(StoreError, match="in use by another process"):
            Database(tmp_path / "v.db")
    finally:
        first.close()
    Database(tmp_path / "v.db").close()  # free again once the first is closed


def test_a_file_from_a_newer_schema_or_not_a_database_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all" * 100)

    with pytest.raises(StoreError, match="newer version"):
        Database(newer)
    with pytest.raises(StoreError, match="database error while opening"):
        Database(junk)


def test_a_directory_that_does_not_exist_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="database error while opening"):
        Database(tmp_path / "no" / "such" / "dir.db")


SPACE = EmbeddingSpace("test-model", 3)


def unit(*values: float) -> np.ndarray[tuple[int], np.dtype[np.float32]]:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_semantic_search_ranks_by_vector_cosine_with_filters() -> None:
    store = VectorStore(embeddings=SPACE)
    store.add("first", id="x", vector=unit(1, 0, 0), metadata={"keep": True})
    store.add("second", id="y", vector=unit(1, 1, 0), metadata={"keep": True})
    store.add("third", id="z", vector=unit(-1, 0, 0))

    hits = store.semantic_search(unit(1, 0.1, 0), k=3)
    filtered = store.semantic_search(unit(-1, 0, 0), k=3, where={"keep": True})

    assert [h.id for h in hits] == ["x", "y", "z"]
    assert hits[2].score == pytest.approx(-0.995, abs=1e-3)  # opposite vectors still rank
    assert [h.id for h in filtered] == ["y", "x"]


def test_vectors_persist_and_a_new_model_leaves_documents_to_embed_again(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    store = VectorStore(Database(path), embeddings=SPACE)
    store.add("one", id="a", vector=unit(0, 1, 0))
    store.close()

    same = VectorStore(Database(path), embeddings=SPACE)
    assert same.pending == []
    assert [h.score for h in same.semantic_search(unit(0, 1, 0), k=1)] == [1.0]
    same.close()

    lexical = VectorStore(Database(path))  # the lexical mode leaves the vectors alone
    lexical.close()
    other = VectorStore(Database(path), embeddings=EmbeddingSpace("other-model", 3))
    assert other.pending == [PendingEmbedding("default", "a", "one")]
    assert [h.score for h in other.semantic_search(unit(0, 1, 0), k=1)] == [0.0]
    other.set_vectors([(other.pending[0], unit(0, 0, 1))])
    assert [h.score for h in other.semantic_search(unit(0, 0, 1), k=1)] == [1.0]
    other.close()

    again = VectorStore(Database(path), embeddings=EmbeddingSpace("other-model", 3))
    assert again.pending == []
    again.close()


def test_a_vector_is_required_in_dense_mode_only() -> None:
    with pytest.raises(ValueError, match="vector is required"):
        VectorStore(embeddings=SPACE).add("text")
    with pytest.raises(ValueError, match="vector is required"):
        VectorStore().add("text", vector=unit(1, 0, 0))
