"""Checking a requested path string before any file system call (pure: no I/O).

A requested path is always relative to a root and uses `/` between components. Everything that
could be read two ways by two layers is refused here rather than interpreted, so that what the
sandbox walks is exactly what the caller wrote:

- NUL (C truncates at it), other control characters, lone surrogates (how Python smuggles
  undecodable bytes, e.g. an overlong UTF-8 `..`) and U+FFFD (the mark a decoder leaves on
  bytes it could not decode);
- backslashes, which are separators on Windows and in some URL parsers;
- percent-encoded bytes (`%2e%2e`, `%2f`): the tools take decoded paths, and a resource URI is
  decoded exactly once by the SDK, so a `%XX` left over is double encoding;
- components that Unicode compatibility normalization (NFKC) turns into `.`, `..` or a
  separator, such as fullwidth full stops and solidus (U+FF0E, U+FF0F), for any layer that
  normalizes names;
- absolute paths, with a hint, rather than re-rooting them silently.

`..` components are kept: the sandbox resolves them against the directories it actually holds
open, and refuses any that would climb above the root.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from micro_mcp.services.fs.errors import PathRefused

MAX_PATH_CHARS = 4096
"""Longest requested path accepted, the Linux PATH_MAX."""

_PERCENT_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_SEPARATOR_LIKE = ("/", "\\")


@dataclass(frozen=True, slots=True)
class RequestedPath:
    """A checked relative path: its components (`..` kept, `.` dropped); did it end in `/`?"""

    parts: tuple[str, ...]
    trailing_slash: bool
    text: str
    """The path as the caller wrote it, for messages."""


def parse(requested: str) -> RequestedPath:
    """Check `requested` and split it into components; `""` and `"."` are the root.

    Raises:
        PathRefused: The path is absolute, too long, or contains a refused character or form.
    """
    if len(requested) > MAX_PATH_CHARS:
        raise PathRefused(f"path is longer than {MAX_PATH_CHARS} characters")
    _refuse_characters(requested)
    if "\\" in requested:
        raise PathRefused(f"backslash in {requested!r} refused: separate components with '/'")
    if _PERCENT_ENCODED.search(requested):
        raise PathRefused(
            f"percent-encoded sequence in {requested!r} refused: send the path decoded"
        )
    if requested.startswith("/"):
        raise PathRefused(
            f"absolute path {requested!r} refused: give a path relative to the root, "
            "e.g. 'docs/readme.md'"
        )
    # Empty and `.` components change nothing; dropping them here keeps the walk simple.
    parts = tuple(part for part in requested.split("/") if part not in ("", "."))
    for part in parts:
        _refuse_lookalike(part, requested)
    trailing_slash = requested.endswith("/") and bool(parts)
    return RequestedPath(parts=parts, trailing_slash=trailing_slash, text=requested)


def _refuse_characters(requested: str) -> None:
    if "\0" in requested:
        raise PathRefused("path contains a NUL byte")
    for char in requested:
        if char.isascii() and char.isprintable():
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise PathRefused(f"path contains the control character U+{ord(char):04X}")
        if category == "Cs":
            raise PathRefused("path contains a lone surrogate: it is not valid Unicode")
        if char == "\ufffd":
            raise PathRefused("path contains U+FFFD: it was decoded from invalid bytes")


def _refuse_lookalike(part: str, requested: str) -> None:
    if part.isascii():
        return
    normal = unicodedata.normalize("NFKC", part)
    if normal in (".", "..") or any(sep in normal for sep in _SEPARATOR_LIKE):
        raise PathRefused(
            f"{requested!r} refused: {part!r} is a look-alike of '.', '..' or a separator"
        )
