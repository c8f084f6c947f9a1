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
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import chain
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
        # A missing word gets the next id as it is looked up, so mapping a batch of words to ids
        # is one map() in C.
        self._terms: defaultdict[str, int] = defaultdict(self._next_term_id)
        self._rows: list[array[int]] = []  # per term: the rows containing it
        self._counts: list[array[float]] = []  # per term: its count in each of those rows
        self._inverse_norms: array[float] = array("d")  # per row; 0 once the row is removed

    def add(self, row: int, counts: Counter[str]) -> None:
        """Index the word counts of a new document at `row`, the next row in order."""
        assert row == len(self._inverse_norms), "rows are added in order"
        # Locals, not attributes, in the loop: it runs once per distinct word of every document
        # and is most of the cost of an add.
        terms, postings, term_counts = self._terms, self._rows, self._counts
        for term, count in counts.items():
            term_id = terms[term]
            if term_id == len(postings):
                postings.append(array("i"))
                term_counts.append(array("f"))
            postings[term_id].append(row)
            term_counts[term_id].append(count)
        self._inverse_norms.append(1 / _norm(counts))

    def add_many(self, documents: Sequence[Counter[str]]) -> None:
        """Index the word counts of new documents at the next rows, in order.

        The same as `add` for each, but grouped by word with numpy: a batch of documents costs
        one Python step per distinct word instead of one per word of each document, which is
        what makes rebuilding the index of a large database at start quick.
        """
        first = len(self._inverse_norms)
        if not documents:
            return
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        term_ids = np.fromiter(
            map(self._terms.__getitem__, chain.from_iterable(documents)), np.int64
        )
        counts = np.fromiter(chain.from_iterable(c.values() for c in documents), np.float32)
        rows = np.repeat(np.arange(first, first + len(documents), dtype=np.int32), lengths)
        for _ in range(len(self._rows), len(self._terms)):
            self._rows.append(array("i"))
            self._counts.append(array("f"))
        order = np.argsort(term_ids, kind="stable")  # stable: rows stay ascending per word
        term_ids, sorted_rows, sorted_counts = term_ids[order], rows[order], counts[order]
        starts = np.flatnonzero(np.diff(term_ids, prepend=-1))
        words: list[int] = term_ids[starts].tolist()
        bounds: list[int] = [*starts.tolist(), len(term_ids)]
        for term_id, start, end in zip(words, bounds, bounds[1:], strict=False):
            self._rows[term_id].frombytes(sorted_rows[start:end].tobytes())
            self._counts[term_id].frombytes(sorted_counts[start:end].tobytes())
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        norms = np.sqrt(np.add.reduceat(counts.astype(np.float64) ** 2, offsets))
        self._inverse_norms.frombytes((1 / norms).tobytes())

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
        terms: defaultdict[str, int] = defaultdict(self._next_term_id)
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

    def _next_term_id(self) -> int:
        return len(self._terms)


def _norm(counts: Counter[str]) -> float:
    return math.sqrt(sum(n * n for n in counts.values()))
