"""The strings of a JSON payload, in walk order, and the payload rebuilt with new ones.

Checks scan every string a client or service would read: object values and array elements at
any depth, except under `_meta` (protocol plumbing) and `data`/`blob` (base64 images, audio and
binary resources). Object keys are not scanned. Pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, cast

SKIPPED: Final = frozenset({"_meta", "data", "blob"})
"""Keys whose values are not text a reader sees."""
MAX_DEPTH: Final = 64
"""Deeper payloads are not scanned (as the gateway refuses params nested deeper)."""
SEPARATOR: Final = "\n\n"
"""Between strings when they are joined for one scan, so a pattern does not run across two."""


class TooDeep(Exception):
    """The payload nests deeper than `MAX_DEPTH`."""


def strings(value: Any, limit: int | None = None) -> list[str] | None:
    """The strings of `value`, in walk order; None once they hold more than `limit` characters
    (the walk stops there, so a huge payload costs only as much as the limit).

    Raises:
        TooDeep: it nests deeper than `MAX_DEPTH`.
    """
    found: list[str] = []
    budget = limit if limit is not None else 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            found.append(item)
            if limit is not None:
                budget -= len(item)
                if budget < 0:
                    return None
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise TooDeep
            elements = cast(list[Any], item)
            stack.extend((child, depth + 1) for child in reversed(elements))
        elif isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise TooDeep
            entries = cast(dict[Any, Any], item)
            stack.extend(
                (child, depth + 1) for key, child in reversed(entries.items()) if key not in SKIPPED
            )
    return found


def rebuild(value: Any, texts: list[str]) -> Any:
    """`value` with its strings replaced, in walk order, by `texts`; containers are copied
    only on the path to a changed string, so the original is never modified."""
    rebuilt, _ = _rebuild(value, iter(texts))
    return rebuilt


def _rebuild(value: Any, texts: Iterator[str]) -> tuple[Any, bool]:
    if isinstance(value, str):
        new = next(texts)
        return new, new is not value
    if isinstance(value, list):
        items = cast(list[Any], value)
        pairs = [_rebuild(item, texts) for item in items]
        if any(changed for _, changed in pairs):
            return [item for item, _ in pairs], True
        return items, False
    if isinstance(value, dict):
        entries = cast(dict[Any, Any], value)
        copy: dict[Any, Any] | None = None
        for key, child in entries.items():
            if key in SKIPPED:
                continue
            new, changed = _rebuild(child, texts)
            if changed:
                if copy is None:
                    copy = dict(entries)
                copy[key] = new
        return (copy, True) if copy is not None else (entries, False)
    return value, False


def redact(texts: list[str], starts: list[int], spans: list[tuple[int, int, str]]) -> list[str]:
    """`texts` (joined with `SEPARATOR`, text `i` starting at `starts[i]`) with each span of
    the joined text replaced by `[REDACTED:kind]`; a span across texts is cut at their edges,
    overlapping spans are merged (the first one's kind names the merge)."""
    per_text: dict[int, list[tuple[int, int, str]]] = {}
    for start, end, kind in spans:
        for index, base in enumerate(starts):
            top = base + len(texts[index])
            if start < top and end > base:
                local = (max(start, base) - base, min(end, top) - base, kind)
                per_text.setdefault(index, []).append(local)
    result = list(texts)
    for index, local in per_text.items():
        text = texts[index]
        pieces: list[str] = []
        cursor = 0
        for start, end, kind in sorted(local):
            if end <= cursor:
                continue  # inside a span already replaced
            if start >= cursor:
                pieces.append(text[cursor:start])
                pieces.append(f"[REDACTED:{kind}]")
            cursor = end
        pieces.append(text[cursor:])
        result[index] = "".join(pieces)
    return result
