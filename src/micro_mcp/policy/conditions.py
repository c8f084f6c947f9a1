"""Conditions of rules, in CEL (the Common Expression Language), compiled once and evaluated per
call. The only module that imports the CEL library (`common-expression-language`, on cel-rust).

A condition sees these variables:

- `args`: the call's arguments (`tools/call`, `prompts/get`), a map; empty for other calls;
- `uri`: the resource URI in normal form as the service knows it (`file:///docs/a.md`), on
  resource requests; empty otherwise;
- `name`: the canonical subject (`fs.readFileText`, `fs.file:///docs/a.md`);
- `principal`: `{"name": ..., "groups": [...], "scopes": [...]}`.

Besides CEL's own functions (`startsWith`, `endsWith`, `contains`, `matches` with RE2 syntax,
`size`, `in`, `has`), four for what arguments usually hold:

- `path(p)`: a file path with `.`, `..` and repeated slashes resolved (`docs/../key` ->
  `key`), so `path(args.path).startsWith("docs/")` cannot be walked out of with `..`;
- `host(url)`: the lower-case host of an absolute URL (`https://API.example.com:8443/x` ->
  `api.example.com`); a URL with credentials, a backslash, spaces or control characters, or
  without a host, is an error, and an error never allows;
- `under(p, dir)`: whether the path `p`, resolved as by `path`, is `dir` or inside it
  (`under(args.path, "private")` holds for `private`, `./private/k` and `docs/../private/k`,
  not for `private-notes`);
- `glob(text, pattern)`: a shell-style match over the whole text (`*`, `?`, `[abc]`), as in
  `glob(host(args.url), "*.example.com")`.

An evaluation that fails (a missing argument, a wrong type, a result that is not a boolean)
counts against the call: an allow rule does not allow, a deny rule denies.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import translate
from functools import lru_cache
from typing import Any, Final
from urllib.parse import urlsplit

import cel

VARIABLES: Final = frozenset({"args", "uri", "name", "principal"})
"""The variables a condition may read."""
BUILTINS: Final = frozenset(
    {
        *("size", "contains", "startsWith", "endsWith", "matches", "type", "dyn"),
        *("int", "uint", "double", "string", "bytes", "timestamp", "duration"),
        *("getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate"),
        *("getDayOfWeek", "getHours", "getMinutes", "getSeconds", "getMilliseconds"),
    }
)
"""The functions of the CEL library that a condition may call (macros such as `has` and
`all` are not functions); a name outside these and the helpers is refused at start, where it
would otherwise fail on every call."""
_MACRO_BINDING: Final = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*,"
)
"""The variable a comprehension macro binds (`args.items.all(i, i > 0)` binds `i`)."""
_TYPE_NAMES: Final = frozenset(
    {"int", "uint", "double", "string", "bytes", "bool", "list", "map", "null_type", "type"}
)
"""Type names, which CEL reports among the variables an expression reads."""
_EVALUATION_ERRORS: Final = (
    ArithmeticError,
    KeyError,
    IndexError,
    RuntimeError,
    TypeError,
    ValueError,
)
"""What the CEL library raises for an expression that fails on its input."""
_UNSAFE_IN_URL: Final = re.compile(r"[\\\s\x00-\x1f\x7f]")

# The library logs every failed evaluation at warning level; a failure is an outcome here (the
# rule does not allow, and the audit record says why), and a caller could fill the log with them.
logging.getLogger("cel").setLevel(logging.CRITICAL)


class ConditionError(Exception):
    """A condition cannot be compiled; the rule loader turns it into a `ConfigError`."""


@dataclass(frozen=True, slots=True, eq=False)
class Condition:
    """A compiled CEL condition."""

    source: str
    program: cel.Program
    names: frozenset[str]
    """The variables it reads: only those are built and handed over (each costs us a call)."""
    functions: Mapping[str, Any]
    """The helper functions it calls."""

    @classmethod
    def compile(cls, source: str) -> Condition:
        """Compile `source` once.

        Raises:
            ConditionError: it is not a valid CEL expression.
        """
        try:
            program = cel.compile(source)
        except ValueError as exc:
            raise ConditionError(_first_line(str(exc))) from None
        bound = {m.group(1) for m in _MACRO_BINDING.finditer(source)}
        unknown = sorted(set(program.variables()) - VARIABLES - bound - _TYPE_NAMES)
        if unknown:
            raise ConditionError(
                f"unknown variable {', '.join(map(repr, unknown))}: a condition reads "
                f"{', '.join(sorted(VARIABLES))}"
            )
        called = set(program.functions())
        strange = sorted(
            name
            for name in called - BUILTINS - _FUNCTIONS.keys()
            if not name.startswith(("_", "@", "!"))  # operators: `_+_`, `@in`, `!_`
        )
        if strange:
            raise ConditionError(
                f"unknown function {', '.join(map(repr, strange))}: besides CEL's own, a "
                f"condition may call {', '.join(sorted(_FUNCTIONS))}"
            )
        functions = {name: f for name, f in _FUNCTIONS.items() if name in called}
        return cls(source, program, frozenset(program.variables()) & VARIABLES, functions)

    def test(self, variables: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Whether the condition holds for these variables, and the error when it could not be
        evaluated (then it does not hold)."""
        given = {name: variables[name] for name in self.names if name in variables}
        context = cel.Context(variables=given, functions=dict(self.functions))
        try:
            result = self.program.execute(context)
        except _EVALUATION_ERRORS as exc:
            return False, _first_line(str(exc)) or type(exc).__name__
        if not isinstance(result, bool):
            return False, f"the condition gave {type(result).__name__}, not a boolean"
        return result, None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""


def path(value: object) -> str:
    """A path with `.`, `..` and repeated slashes resolved; `..` that climbs out stays."""
    if not isinstance(value, str):
        raise TypeError("path() takes a string")
    if not value:
        return ""
    resolved = posixpath.normpath(value)
    if resolved.startswith("//"):  # normpath keeps a leading `//` (POSIX leaves it open)
        resolved = "/" + resolved.lstrip("/")
    return "" if resolved == "." else resolved


def under(value: object, directory: object) -> bool:
    """Whether the path `value` is `directory` or inside it, both resolved as by `path`."""
    inner, outer = path(value), path(directory).rstrip("/")
    if not outer:
        return not inner.startswith(("/", ".."))  # everything relative, nothing that climbs
    return inner == outer or inner.startswith(outer + "/")


def host(url: object) -> str:
    """The lower-case host of an absolute URL, IDNA-encoded.

    Raises:
        ValueError: the URL is not one whose host two parsers agree on.
    """
    if not isinstance(url, str):
        raise TypeError("host() takes a string")
    if _UNSAFE_IN_URL.search(url):
        raise ValueError("host(): the URL has a backslash, a space or a control character")
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ValueError("host(): not an absolute URL with a host")
    if "@" in parts.netloc:
        raise ValueError("host(): the URL carries credentials (user@host)")
    name = (parts.hostname or "").rstrip(".")
    if not name:
        raise ValueError("host(): the URL has no host")
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("host(): the host is not a valid domain name") from None


def glob(text: object, pattern: object) -> bool:
    """Whether `text` matches the shell-style `pattern` as a whole (case-sensitive)."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise TypeError("glob() takes two strings")
    return _glob(pattern).match(text) is not None


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern))


_FUNCTIONS: Final[dict[str, Any]] = {"path": path, "under": under, "host": host, "glob": glob}
