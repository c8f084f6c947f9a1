"""Embedding vectors by row, scored against a query by one matrix-vector product."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_INITIAL_ROWS = 1024


class DenseIndex:
    """Unit-length float32 vectors in one matrix that doubles as it fills."""

    def __init__(self, dimension: int) -> None:
        """Create an empty index of `dimension`-long vectors."""
        self.dimension = dimension
        self._matrix = np.zeros((_INITIAL_ROWS, dimension), dtype=np.float32)
        self._size = 0

    def add(self, row: int, vector: NDArray[np.float32]) -> None:
        """Store the vector of a new document at `row`, the next row in order."""
        assert row == self._size, "rows are added in order"
        if self._size == self._matrix.shape[0]:
            grown = np.zeros((2 * self._size, self.dimension), dtype=np.float32)
            grown[: self._size] = self._matrix
            self._matrix = grown
        self._matrix[row] = vector
        self._size += 1

    def set(self, row: int, vector: NDArray[np.float32]) -> None:
        """Replace the vector at an existing `row`."""
        self._matrix[row] = vector

    def scores(self, query: NDArray[np.float32]) -> NDArray[np.float64]:
        """The cosine similarity of every row to the unit-length `query`."""
        return (self._matrix[: self._size] @ query).astype(np.float64)

    def compact(self, new_row: NDArray[np.int64]) -> None:
        """Keep only rows whose `new_row` is not -1, in order."""
        kept = self._matrix[: self._size][new_row >= 0]
        self._size = kept.shape[0]
        self._matrix = np.zeros((max(_INITIAL_ROWS, 2 * self._size), self.dimension), np.float32)
        self._matrix[: self._size] = kept
