"""Ranked search over tool definitions: BM25 over names, descriptions and argument names.

Pure: a `ToolIndex` is built once from one catalog snapshot's tools and answers queries by
score, restricted to the tools a caller may see. The ranking is Okapi BM25 (the `bm25s`
library, on numpy) over one bag of words per tool, in which the fields are weighted by
repetition: the words of the name count three times, the argument names, the
description and the argument descriptions once (bench/search.py measured the weights).
Words are split at case changes, digits and punctuation (`readFileText` -> read, file,
text), lowercased, and cut to a stem (Snowball English), so `files` finds `listFile`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import bm25s  # pyright: ignore[reportMissingTypeStubs] -- untyped; used through typed wrappers
import numpy as np
import numpy.typing as npt
import Stemmer  # pyright: ignore[reportMissingTypeStubs] -- PyStemmer ships no stubs

from micro_mcp.protocol.jsonrpc import as_object

NAME_WEIGHT: Final = 3
"""How many times the words of a tool's name count."""
ARGUMENT_WEIGHT: Final = 1
"""How many times each argument name counts (bench/search.py: 2 was no better)."""
TEXT_WEIGHT: Final = 1
"""How many times the description and the argument descriptions count."""

_WORD: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_STOPWORD_TEXT: Final = (
    "a an and are as at be by can do does for from has have how i if in into is it its me my "
    "of on or our so that the their them then there these this to use used using was we what "
    "when which will with you your"
)
_STOPWORDS: Final = frozenset(_STOPWORD_TEXT.split())
# bm25s logs every index build at DEBUG; one per catalog change says nothing to an operator.
logging.getLogger("bm25s").setLevel(logging.WARNING)
_STEMMER: Final[Any] = cast("Any", Stemmer).Stemmer("english")


def words(text: str) -> list[str]:
    """The stemmed search words of `text`, in order (stopwords dropped)."""
    found = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in found if w not in _STOPWORDS]
    stems: list[str] = _STEMMER.stemWords(kept) if kept else []
    return stems


def document(tool: Mapping[str, Any]) -> list[str]:
    """The weighted bag of words that stands for one tool definition."""
    name = tool.get("name")
    description = tool.get("description")
    bag = words(name) * NAME_WEIGHT if isinstance(name, str) else []
    if isinstance(description, str):
        bag += words(description) * TEXT_WEIGHT
    schema = as_object(tool.get("inputSchema"))
    properties = as_object(schema.get("properties")) if schema is not None else None
    for argument, spec in (properties or {}).items():
        bag += words(argument) * ARGUMENT_WEIGHT
        described = as_object(spec)
        text = described.get("description") if described is not None else None
        if isinstance(text, str):
            bag += words(text) * TEXT_WEIGHT
    return bag


@dataclass(frozen=True, slots=True)
class Hit:
    """One tool found: its position in the index, its name and its score."""

    position: int
    name: str
    score: float


class ToolIndex:
    """BM25 over a fixed list of tool definitions; immutable once built."""

    def __init__(self, tools: Sequence[Mapping[str, Any]]) -> None:
        """Index `tools` (each with a string `name`), in their order."""
        self.names: tuple[str, ...] = tuple(str(tool.get("name")) for tool in tools)
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._bm25: Any = None
        if tools:
            bm25: Any = bm25s.BM25()
            bm25.index([document(tool) for tool in tools], show_progress=False)
            self._bm25 = bm25

    def __len__(self) -> int:
        return len(self.names)

    def mask(self, names: Iterable[str]) -> npt.NDArray[np.bool_]:
        """The tools among `names` as a mask over the index (names not indexed are ignored)."""
        allowed = np.zeros(len(self.names), dtype=np.bool_)
        positions = [p for name in names if (p := self._positions.get(name)) is not None]
        allowed[positions] = True
        return allowed

    def search(
        self, query: str, limit: int, allowed: npt.NDArray[np.bool_] | None = None
    ) -> list[Hit]:
        """The best `limit` tools for `query`, best first, among those `allowed` (a mask from
        `mask`; None: all); a tool that shares no word with the query is not found."""
        terms = words(query)
        if self._bm25 is None or not terms or limit <= 0:
            return []
        scores: npt.NDArray[np.float32] = self._bm25.get_scores(terms)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        matched = int(np.count_nonzero(scores > 0))
        take = min(limit, matched)
        if take == 0:
            return []
        top = np.argpartition(-scores, take - 1)[:take]
        # Best first; equal scores in index order, so results are deterministic.
        positions: list[int] = top.tolist()
        order = sorted(positions, key=lambda i: (-float(scores[i]), i))
        return [Hit(i, self.names[i], float(scores[i])) for i in order]
