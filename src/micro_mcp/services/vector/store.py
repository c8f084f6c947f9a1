"""An in-memory document store ranked by cosine similarity of word-count vectors.

A document's vector counts its lowercased word tokens (`\\w+`, so Unicode letters and digits).
Cosine similarity ignores document length, so a short note about a topic can outrank a long
text that mentions it once. Pure Python with no I/O; the search is a linear scan, which is
plenty for the small corpora this example service is meant for.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

Scalar = str | int | float | bool | None
"""A metadata value: metadata is a flat mapping of names to JSON scalars."""

SNIPPET_CHARS = 200
"""Longest snippet of a document shown in a hit."""

_TOKEN = re.compile(r"\w+")


class StoreError(Exception):
    """A refused store operation; the message is safe to show to the client."""


@dataclass(frozen=True, slots=True)
class Document:
    """A stored document with its precomputed term counts and vector norm."""

    id: str
    text: str
    metadata: Mapping[str, Scalar]
    counts: Counter[str] = field(repr=False)
    norm: float


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    id: str
    score: float
    snippet: str
    metadata: Mapping[str, Scalar]


def tokenize(text: str) -> list[str]:
    """The lowercased word tokens of `text`."""
    return _TOKEN.findall(text.lower())


class VectorStore:
    """Documents by id, searchable by cosine similarity; adding an existing id replaces it."""

    def __init__(self, max_documents: int = 10_000) -> None:
        """Create an empty store holding at most `max_documents` documents."""
        self.max_documents = max_documents
        self._documents: dict[str, Document] = {}

    def __len__(self) -> int:
        """The number of stored documents."""
        return len(self._documents)

    def add(
        self, text: str, *, id: str | None = None, metadata: Mapping[str, Scalar] | None = None
    ) -> tuple[str, bool]:
        """Store `text` under `id` (a fresh one if None); return the id and whether it replaced.

        Raises:
            StoreError: The text has no word tokens, or the store is full.
        """
        counts = Counter(tokenize(text))
        if not counts:
            raise StoreError("text contains no words to index")
        doc_id = uuid.uuid4().hex if id is None else id
        replaced = doc_id in self._documents
        if not replaced and len(self._documents) >= self.max_documents:
            raise StoreError(f"the store is full ({self.max_documents} documents)")
        self._documents[doc_id] = Document(
            id=doc_id,
            text=text,
            metadata=dict(metadata or {}),
            counts=counts,
            norm=_norm(counts),
        )
        return doc_id, replaced

    def search(self, query: str, k: int) -> list[Hit]:
        """The `k` documents most similar to `query`, best first; documents scoring 0 are left out.

        Ties keep insertion order, so results are deterministic.

        Raises:
            StoreError: The query has no word tokens, or `k` is below 1.
        """
        if k < 1:
            raise StoreError(f"k must be at least 1, got {k}")
        query_counts = Counter(tokenize(query))
        if not query_counts:
            raise StoreError("query contains no words to search for")
        query_norm = _norm(query_counts)
        scored: list[tuple[float, Document]] = []
        for document in self._documents.values():
            dot = sum(n * document.counts[term] for term, n in query_counts.items())
            if dot:
                scored.append((dot / (query_norm * document.norm), document))
        # sorted() is stable, so equal scores stay in insertion order.
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return [
            # Rounded so identical texts read as 1.0 rather than 0.9999999999999998.
            Hit(id=doc.id, score=round(score, 6), snippet=_snippet(doc.text), metadata=doc.metadata)
            for score, doc in scored[:k]
        ]


def _norm(counts: Counter[str]) -> float:
    return math.sqrt(sum(n * n for n in counts.values()))


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[: SNIPPET_CHARS - 1].rstrip() + "…"
