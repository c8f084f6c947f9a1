"""CEL conditions and the helper functions rules use on arguments."""

from __future__ import annotations

import pytest

from micro_mcp.policy.conditions import (
    BUILTINS,
    Condition,
    ConditionError,
    glob,
    host,
    path,
    under,
)


@pytest.mark.parametrize(
    ("raw", "resolved"),
    [
        ("docs/a.md", "docs/a.md"),
        ("./docs//a.md", "docs/a.md"),
        ("docs/../private/key", "private/key"),
        ("docs/../../etc", "../etc"),
        ("//etc/passwd", "/etc/passwd"),
        (".", ""),
        ("", ""),
    ],
)
def test_path_resolves_dots_and_slashes(raw: str, resolved: str) -> None:
    assert path(raw) == resolved


@pytest.mark.parametrize(
    ("value", "directory", "inside"),
    [
        ("private", "private", True),
        ("./private/k", "private/", True),
        ("docs/../private/k", "private", True),
        ("private-notes/k", "private", False),
        ("docs/a", "", True),
        ("../a", "", False),
        ("/abs", "", False),
    ],
)
def test_under(value: str, directory: str, inside: bool) -> None:
    assert under(value, directory) is inside


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://API.Example.com:8443/x?y", "api.example.com"),
        ("http://a.example.com./", "a.example.com"),
        ("https://bücher.example/", "xn--bcher-kva.example"),
        ("https://[::1]:80/", "::1"),
    ],
)
def test_host(url: str, name: str) -> None:
    assert host(url) == name


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com@evil.io/",
        "https://evil.io\\@api.example.com/",
        "https://evil.io /",
        "https://a.example.com\t/",
        "/relative/path",
        "mailto:a@example.com",
        "https:///nohost",
    ],
)
def test_host_refuses_urls_parsers_disagree_on(url: str) -> None:
    with pytest.raises(ValueError, match=r"host\(\)"):
        host(url)


def test_glob_matches_the_whole_text() -> None:
    assert glob("a.example.com", "*.example.com")
    assert glob("a.b.example.com", "*.example.com")
    assert not glob("example.com", "*.example.com")
    assert not glob("a.example.com.evil", "*.example.com")


def test_helpers_refuse_what_is_not_a_string() -> None:
    for call in (lambda: path(1), lambda: host(None), lambda: glob("a", 2), lambda: under([], "")):
        with pytest.raises(TypeError):
            call()


def test_a_condition_is_compiled_once_and_tested_many_times() -> None:
    condition = Condition.compile('args.path.startsWith("docs/")')
    assert condition.test({"args": {"path": "docs/a"}}) == (True, None)
    assert condition.test({"args": {"path": "src/a"}}) == (False, None)
    holds, error = condition.test({"args": {}})
    assert not holds and error


def test_invalid_cel_does_not_compile() -> None:
    with pytest.raises(ConditionError, match=r"[Ss]yntax"):
        Condition.compile("args.path.startsWith(")


def test_an_unknown_variable_is_refused_at_compile_time() -> None:
    with pytest.raises(ConditionError, match=r"unknown variable 'arg': a condition reads args"):
        Condition.compile('arg.path.startsWith("docs/")')


def test_variables_bound_by_macros_and_type_names_are_not_unknown() -> None:
    condition = Condition.compile(
        "args.items.all(i, i > 0) && args.items.exists(j, j == 2) && type(args.n) == int"
    )
    assert condition.test({"args": {"items": [1, 2], "n": 3}}) == (True, None)
    assert condition.names == {"args"}


def test_an_unknown_function_is_refused_at_compile_time() -> None:
    with pytest.raises(ConditionError, match=r"unknown function 'startswith'"):
        Condition.compile('args.path.startswith("docs/")')


_T = 'timestamp("2020-01-01T00:00:00Z")'
_USES = {
    "size": 'size("a") == 1',
    "contains": '"ab".contains("a")',
    "startsWith": '"ab".startsWith("a")',
    "endsWith": '"ab".endsWith("b")',
    "matches": '"ab".matches("^a")',
    "type": "type(1) == int",
    "dyn": "dyn(1) == 1",
    "int": 'int("1") == 1',
    "uint": "uint(1) == 1u",
    "double": "double(1) == 1.0",
    "string": 'string(1) == "1"',
    "bytes": 'bytes("a") == b"a"',
    "timestamp": f"{_T} == {_T}",
    "duration": 'duration("1s") == duration("1s")',
    **{name: f"{_T}.{name}() >= 0" for name in BUILTINS if name.startswith("get")},
}


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_function_allowed_at_compile_time_exists_in_the_library(name: str) -> None:
    assert Condition.compile(_USES[name]).test({}) == (True, None)
