"""Metadata filters: which documents a search may return, as a row mask.

A filter (`where`) maps metadata keys to a value or a list of values. A document passes when,
for every key, its value equals the one given or one of the list; a document without the key
never passes. Equality is JSON's: `1` equals `1.0`, but `true` is not `1`, and `null` matches
only an explicit null.

`MetadataIndex` keeps, for each (key, value) pair, the rows holding it, so a filter costs the
size of its matching rows rather than a look at every document's metadata.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

Scalar = str | int | float | bool | None
"""A metadata value: metadata is a flat mapping of names to JSON scalars."""

Condition = Scalar | Sequence[Scalar]
"""What a filter asks of one key: this value, or any value of a list."""

Where = Mapping[str, Condition]
"""A filter: every key's condition must hold."""

_Key = tuple[str, str, str | float | bool | None]


def _key(name: str, value: Scalar) -> _Key:
    # Tagged so that True and 1, equal in Python, stay apart as they are in JSON.
    match value:
        case bool():
            return (name, "bool", value)
        case int() | float():
            return (name, "number", float(value))
        case str():
            return (name, "string", value)
        case None:
            return (name, "null", None)


class MetadataIndex:
    """Rows by (key, value); rows that are later removed stay listed and are masked out."""

    def __init__(self) -> None:
        """Create an empty index."""
        self._rows: dict[_Key, array[int]] = {}

    def add(self, row: int, metadata: Mapping[str, Scalar]) -> None:
        """Record the metadata of the document at `row`."""
        for name, value in metadata.items():
            self._rows.setdefault(_key(name, value), array("i")).append(row)

    def mask(self, where: Where, size: int) -> NDArray[np.bool_]:
        """A boolean array over `size` rows: True where the row's metadata passes `where`."""
        passing = np.ones(size, dtype=np.bool_)
        for name, condition in where.items():
            values = (
                condition
                if isinstance(condition, Sequence) and not isinstance(condition, str)
                else [condition]
            )
            allowed = np.zeros(size, dtype=np.bool_)
            for value in values:
                rows = self._rows.get(_key(name, value))
                if rows is not None:
                    allowed[np.frombuffer(rows, dtype=np.int32)] = True
            passing &= allowed
        return passing

    def compact(self, new_row: NDArray[np.int64]) -> None:
        """Renumber rows by `new_row` (old row -> new row, or -1 for a row that is gone)."""
        kept: dict[_Key, array[int]] = {}
        for key, rows in self._rows.items():
            moved = new_row[np.frombuffer(rows, dtype=np.int32)]
            moved = moved[moved >= 0]
            if moved.size:
                kept[key] = array("i", moved.astype(np.int32).tobytes())
        self._rows = kept
