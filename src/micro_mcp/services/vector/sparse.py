"""Cosine similarity of word-count vectors, scored through an inverted index.

A document's vector counts its lowercased word tokens (`\\w+`, so Unicode letters and digits).
Cosine similarity ignores document length, so a short note about a topic can outrank a long
text that mentions it once.

The index keeps, for each word, a posting list: the rows of the documents containing it and
how often. Scoring a query reads only the posting lists of its words, in C (numpy's bincount
sums the products per row), so a search costs the number of postings of its words, not the
number of documents times a Python loop. Posting lists are `array.array`s: appending is cheap,
and numpy reads them in place.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    """The lowercased word tokens of `text`."""
    return _TOKEN.findall(text.lower())


def word_counts(text: str) -> Counter[str]:
    """How often each token occurs in `text`."""
    return Counter(tokenize(text))


class SparseIndex:
    """Word-count vectors by row, scored against a query by cosine similarity."""

    def __init__(self) -> None:
        """Create an empty index."""
        self._terms: dict[str, int] = {}
        self._rows: list[array[int]] = []  # per term: the rows containing it
        self._counts: list[array[float]] = []  # per term: its count in each of those rows
        self._inverse_norms: array[float] = array("d")  # per row; 0 once the row is removed

    def add(self, row: int, counts: Counter[str]) -> None:
        """Index the word counts of a new document at `row`, the next row in order."""
        assert row == len(self._inverse_norms), "rows are added in order"
        for term, count in counts.items():
            term_id = self._terms.get(term)
            if term_id is None:
                term_id = self._terms[term] = len(self._rows)
                self._rows.append(array("i"))
                self._counts.append(array("f"))
            self._rows[term_id].append(row)
            self._counts[term_id].append(count)
        self._inverse_norms.append(1 / _norm(counts))

    def remove(self, row: int) -> None:
        """Make `row` score 0 from now on; its postings go at the next compaction."""
        self._inverse_norms[row] = 0.0

    def scores(self, query: Counter[str]) -> NDArray[np.float64]:
        """The cosine similarity of every row to `query` (0 for rows sharing no word)."""
        size = len(self._inverse_norms)
        rows: list[NDArray[np.int32]] = []
        weights: list[NDArray[np.floating[Any]]] = []
        for term, count in query.items():
            term_id = self._terms.get(term)
            if term_id is not None:
                rows.append(np.frombuffer(self._rows[term_id], dtype=np.int32))
                weights.append(np.frombuffer(self._counts[term_id], dtype=np.float32) * count)
        if not rows:
            return np.zeros(size)
        dots = np.bincount(np.concatenate(rows), np.concatenate(weights), minlength=size)
        inverse_norms = np.frombuffer(self._inverse_norms, dtype=np.float64)
        return dots * inverse_norms * (1 / _norm(query))

    def compact(self, new_row: NDArray[np.int64]) -> None:
        """Renumber rows by `new_row` (old row -> new row, or -1 for a row that is gone)."""
        kept = new_row >= 0
        terms: dict[str, int] = {}
        postings: list[array[int]] = []
        counts: list[array[float]] = []
        for term, term_id in self._terms.items():
            old = np.frombuffer(self._rows[term_id], dtype=np.int32)
            alive = kept[old]
            if alive.any():  # a word no live document holds leaves the vocabulary
                terms[term] = len(postings)
                postings.append(array("i", new_row[old[alive]].astype(np.int32).tobytes()))
                live = np.frombuffer(self._counts[term_id], dtype=np.float32)[alive]
                counts.append(array("f", live.tobytes()))
        self._terms, self._rows, self._counts = terms, postings, counts
        norms = np.frombuffer(self._inverse_norms, dtype=np.float64)[kept]
        self._inverse_norms = array("d", norms.tobytes())

    def __len__(self) -> int:
        """The number of distinct words indexed."""
        return len(self._terms)


def _norm(counts: Counter[str]) -> float:
    return math.sqrt(sum(n * n for n in counts.values()))
