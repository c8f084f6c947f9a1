"""Unit tests of the fs service's pure parts: checking requested paths, and glob patterns."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp.services.fs.errors import PathRefused
from micro_mcp.services.fs.paths import MAX_PATH_CHARS, parse
from micro_mcp.services.fs.pattern import compile_glob


@pytest.mark.parametrize(
    ("requested", "parts", "trailing_slash"),
    [
        ("", (), False),
        (".", (), False),
        ("./", (), False),
        ("a/b", ("a", "b"), False),
        ("a//b/./", ("a", "b"), True),
        ("a/../b", ("a", "..", "b"), False),
        ("100%done/a%zz", ("100%done", "a%zz"), False),
        ("café/名前.txt", ("café", "名前.txt"), False),
        ("wait\u2026.txt", ("wait\u2026.txt",), False),
        ("...", ("...",), False),
        ("~", ("~",), False),
    ],
)
def test_plain_relative_paths_are_split_into_components(
    requested: str, parts: tuple[str, ...], trailing_slash: bool
) -> None:
    path = parse(requested)

    assert (path.parts, path.trailing_slash, path.text) == (parts, trailing_slash, requested)


@pytest.mark.parametrize(
    ("requested", "reason"),
    [
        ("a\0b", "NUL byte"),
        ("a\nb", "control character U+000A"),
        ("a\x7fb", "control character U+007F"),
        ("a\x85b", "control character U+0085"),
        ("\udcae", "lone surrogate"),
        ("a\ufffd", "U+FFFD"),
        ("a\\b", "backslash"),
        ("%2e%2e", "percent-encoded"),
        ("a%2Fb", "percent-encoded"),
        ("/a", "absolute path"),
        ("\uff0e\uff0e", "look-alike"),
        ("a/\u2025", "look-alike"),
        ("a\uff0fb", "look-alike"),
        ("a\uff3cb", "look-alike"),
        ("\ufe52", "look-alike"),
        ("a" * (MAX_PATH_CHARS + 1), "longer than"),
    ],
)
def test_ambiguous_or_absolute_paths_are_refused_with_the_reason(
    requested: str, reason: str
) -> None:
    with pytest.raises(PathRefused, match=re.escape(reason)):
        parse(requested)


@given(st.text())
def test_parsed_components_are_plain_names_and_rejoin_to_the_same(text: str) -> None:
    try:
        path = parse(text)
    except PathRefused:
        return
    for part in path.parts:
        assert part and part != "."
        assert not {"/", "\\", "\0"} & set(part)
    assert parse("/".join(path.parts)).parts == path.parts


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.md", "a.md", True),
        ("*.md", "d/a.md", False),
        ("*", ".hidden", True),
        ("*/*.md", "d/a.md", True),
        ("**/*.md", "a.md", True),
        ("**/*.md", "d/e/f/a.md", True),
        ("**/*.md", "d/e/f/a.txt", False),
        ("d/**", "d", True),
        ("d/**", "d/e/f", True),
        ("d/**", "e/f", False),
        ("**/e/**/f", "a/e/b/c/f", True),
        ("**/e/**/f", "a/e/b/c/g", False),
        ("a?c", "abc", True),
        ("a?c", "a/c", False),
        ("[ab]*", "b1", True),
        ("[!ab]*", "b1", False),
        ("**/**/**/x", "x", True),
    ],
)
def test_glob_matches_component_by_component(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).matches(tuple(path.split("/"))) is matches


@pytest.mark.parametrize(
    ("pattern", "depth"), [("*", 1), ("a/*/c", 3), ("**", None), ("a/**/b", None)]
)
def test_glob_depth_bounds_the_walk_unless_it_has_a_double_star(
    pattern: str, depth: int | None
) -> None:
    assert compile_glob(pattern).max_depth == depth


def test_many_double_stars_against_a_deep_path_stay_fast_enough_to_finish() -> None:
    pattern = compile_glob("/".join(["**"] * 30 + ["x"]))

    assert pattern.matches(tuple(["d"] * 200)) is False


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "empty pattern"),
        (".", "empty pattern"),
        ("../*", "'..' in pattern"),
        ("a/../../*", "'..' in pattern"),
        ("/etc/*", "absolute path"),
        ("*\\*", "backslash"),
        ("%2e%2e/*", "percent-encoded"),
    ],
)
def test_glob_patterns_that_could_only_point_outside_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(PathRefused, match=reason):
        compile_glob(pattern)
