"""Glob patterns for the `glob` tool (pure: no I/O).

A pattern is matched against the relative paths a walk of the tree finds; it never names a
path to open, so it cannot lead anywhere by itself. It is still checked like a path (no
absolute patterns, `..`, backslashes, encoded bytes), because a pattern that could only ever
match outside the root is a mistake worth reporting rather than an empty result.

Syntax, per `/`-separated component: `*` any run of characters, `?` one character, `[abc]`
and `[!abc]` classes (as `fnmatch`), and a whole component `**` for any number of components,
none included. `*` matches names starting with a dot too.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cache

from micro_mcp.services.fs.errors import PathRefused
from micro_mcp.services.fs.paths import parse

_ANY_DEPTH = "**"


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled glob pattern."""

    text: str
    parts: tuple[re.Pattern[str] | None, ...]
    """One regex per component; None for `**`."""

    @property
    def max_depth(self) -> int | None:
        """The deepest a match can lie below the searched directory; None if unbounded."""
        return None if None in self.parts else len(self.parts)

    def matches(self, names: tuple[str, ...]) -> bool:
        """Whether the relative path `names` (its components) matches the pattern."""
        return _match(self.parts, names)


def compile_glob(pattern: str) -> Glob:
    """Check and compile `pattern`.

    Raises:
        PathRefused: The pattern is empty, absolute, has a `..` component or anything a path
            may not have.
    """
    checked = parse(pattern)
    if not checked.parts:
        raise PathRefused("empty pattern: use '*' for the entries of the directory itself")
    if ".." in checked.parts:
        raise PathRefused(
            f"'..' in pattern {pattern!r} refused: a pattern only matches below the directory "
            "searched; pass a different 'path' instead"
        )
    return Glob(text=pattern, parts=tuple(_component(part) for part in checked.parts))


def _component(part: str) -> re.Pattern[str] | None:
    if part == _ANY_DEPTH:
        return None
    return _compiled(fnmatch.translate(part))


@cache
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _match(parts: tuple[re.Pattern[str] | None, ...], names: tuple[str, ...]) -> bool:
    # Positions already known to fail, so runs of `**` stay polynomial.
    failed: set[tuple[int, int]] = set()

    def at(i: int, j: int) -> bool:
        if (i, j) in failed:
            return False
        if i == len(parts):
            ok = j == len(names)
        elif parts[i] is None:
            ok = at(i + 1, j) or (j < len(names) and at(i, j + 1))
        else:
            regex = parts[i]
            ok = j < len(names) and regex is not None and bool(regex.match(names[j]))
            ok = ok and at(i + 1, j + 1)
        if not ok:
            failed.add((i, j))
        return ok

    return at(0, 0)
