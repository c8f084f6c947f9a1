"""Namespacing: the one place that turns a service's names and URIs into the gateway's and back.

A tool, prompt or resource template name `n` of service `ns` is exposed as `ns + sep + n`
(`fs.listDir`). A resource URI `u` is exposed as `ns+u` (`fs+file:///a.txt`): `+` is legal in a
URI scheme and never in a namespace, so the split is exact. Decoding never guesses: the caller
looks the namespace up in its table. A service mounted without prefix keeps its names and URIs.

Hosts cap tool names (64 characters of `[A-Za-z0-9_.-]` for Claude and OpenAI). A tool or prompt
name that does not fit the `NameRules` is shortened: characters outside the alphabet become `_`,
the tail is cut, and `-` plus the first hex digits of the SHA-256 of the canonical `ns.name` is
appended (`analytics-warehouse.reconcile_quarterly_revenue_ac-5f1c0a9e`). The namespace prefix
always survives whole. `expose` assigns every name of one list at once, so the result depends
only on the catalog: names that fit keep themselves, the rest are shortened in the order of their
canonical names, and a clash lengthens the hash. The exposed name is then only a key of the
catalog's table, which maps it back to the service's own name; it is never parsed.
"""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from micro_mcp.protocol.jsonrpc import as_object, objects_in

NAMESPACE_PATTERN: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""What a namespace may look like: short, lower case, safe in tool names and URI schemes."""
SEPARATORS: Final = (".", "_", "__", "-", "/")
"""Separators allowed between namespace and name (`_` or `__` for hosts that forbid dots)."""
URI_JOIN: Final = "+"

DEFAULT_MAX_LENGTH: Final = 64
"""The longest tool name the strictest hosts take (Claude, OpenAI)."""
MIN_MAX_LENGTH: Final = 48
"""The smallest limit that keeps a 32-character namespace, a 2-character separator, a hash
suffix and a few characters of the name."""
DEFAULT_ALPHABET: Final = "A-Za-z0-9_.-"
"""The characters hosts accept in tool names, as the body of a regex character class."""
HASH_DIGITS: Final = 8
"""Hex digits of the canonical name's SHA-256 a shortened name ends with, before any clash."""
_REQUIRED: Final = "abcdefghijklmnopqrstuvwxyz0123456789-"
"""Characters every alphabet must hold: those of namespaces and of the hash suffix."""


def is_namespace(value: str) -> bool:
    """True when `value` is a valid namespace."""
    return NAMESPACE_PATTERN.fullmatch(value) is not None


def subject(namespace: str, name: str) -> str:
    """The canonical `ns.name` of policy patterns and audit records, whatever the separator."""
    return f"{namespace}.{name}"


def claimant(
    exposed: str, owner: str, namers: Mapping[str, Namer], *, uri: bool = False
) -> str | None:
    """The other service an exposed name (or, with `uri`, URI) reads as belonging to, or None.

    A name belongs to the prefixed service with the longest `ns + sep` prefix of it (`x-y` over
    `x` for `x-y-weather` with separator `-`); a URI to the namespace before its `+`. When that
    is not `owner`, listing it would let `owner` answer for another service's name: a
    `prefix: false` service's `fs.listDir`, or service `x`'s `y-weather` for `x-y`'s `weather`.
    """
    found: str | None = None
    if uri:
        split = split_uri(exposed)
        if split is not None and (namer := namers.get(split[0])) is not None and namer.prefixed:
            found = split[0]
        return found if found != owner else None
    for namespace, namer in namers.items():
        if (
            namer.prefixed
            and exposed.startswith(namespace)
            and exposed.startswith(namer.separator, len(namespace))
            and (found is None or len(namespace) > len(found))
        ):
            found = namespace
    return found if found != owner else None


def split_uri(uri: str) -> tuple[str, str] | None:
    """Split an exposed URI `ns+rest` into its namespace candidate and the service's URI."""
    head, sep, rest = uri.partition(URI_JOIN)
    if not sep or not rest or not is_namespace(head):
        return None
    return head, rest


def alphabet_problem(alphabet: str) -> str | None:
    """Why `alphabet` (a regex character-class body) cannot serve as a name alphabet, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # re warns of a `[` that a later Python reads as a set
            outside = _outside(alphabet)
            inside = re.compile(f"[{alphabet}]")
    except (re.error, FutureWarning) as exc:
        return f"{alphabet!r} is not a regex character class body: {exc}"
    if inside.fullmatch("a") is None:  # `a-z]` compiles, as a class and then a literal `]`
        return f"{alphabet!r} is not one regex character class body"
    missing = "".join(ch for ch in _REQUIRED if outside.search(ch))
    if missing:
        return f"must allow a-z, 0-9 and '-' (namespaces and hash suffixes); misses {missing!r}"
    return None


@functools.cache
def _outside(alphabet: str) -> re.Pattern[str]:
    return re.compile(f"[^{alphabet}]")


@dataclass(frozen=True, slots=True)
class NameRules:
    """What a host accepts as a tool or prompt name: at most `max_length` characters of
    `alphabet` (a regex character-class body, checked with `alphabet_problem`)."""

    max_length: int = DEFAULT_MAX_LENGTH
    alphabet: str = DEFAULT_ALPHABET
    _outside: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_outside", _outside(self.alphabet))

    def fits(self, name: str) -> bool:
        """True when a host takes `name` as it is."""
        return len(name) <= self.max_length and self._outside.search(name) is None

    def allows(self, text: str) -> bool:
        """True when every character of `text` is in the alphabet."""
        return self._outside.search(text) is None

    def shorten(self, exposed: str, canonical: str, digits: int = HASH_DIGITS) -> str:
        """`exposed` made to fit: outside characters replaced, cut, plus a hash of `canonical`."""
        filler = "_" if self.allows("_") else "-"
        mapped = self._outside.sub(filler, exposed)
        digest = hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{mapped[: self.max_length - 1 - digits]}-{digest[:digits]}"


@dataclass(frozen=True, slots=True)
class Namer:
    """How one service's names and URIs appear to clients."""

    namespace: str
    separator: str = "."
    prefixed: bool = True
    rules: NameRules = NameRules()
    """The limit and alphabet tool and prompt names are fitted to (by `expose`)."""

    def name(self, name: str) -> str:
        """The exposed name of a tool, prompt or template."""
        return f"{self.namespace}{self.separator}{name}" if self.prefixed else name

    def uri(self, uri: str) -> str:
        """The exposed form of a resource URI (or URI template)."""
        return f"{self.namespace}{URI_JOIN}{uri}" if self.prefixed else uri

    def rewrite_content(self, content: Any) -> None:
        """Rewrite, in place, the URIs of resource links and embedded resources in `content`.

        Tool results and prompt messages carry these; a client that reads such a URI back through
        the gateway must reach the same service.
        """
        if not self.prefixed:
            return
        for block in objects_in(content):
            kind = block.get("type")
            if kind == "resource_link" and isinstance(block.get("uri"), str):
                block["uri"] = self.uri(block["uri"])
            elif kind == "resource":
                resource = as_object(block.get("resource"))
                if resource is not None and isinstance(resource.get("uri"), str):
                    resource["uri"] = self.uri(resource["uri"])


def expose(wanted: Sequence[tuple[Namer, str]]) -> list[str | None]:
    """The exposed name of each (service, own name) of one list, in catalog order.

    A name that fits its rules is kept (the first of equal ones wins; later ones get None, a
    clash); the others are shortened in the order of their canonical names, a clash with any
    name taken lengthening the hash until it is unique. A canonical name listed twice gets None
    the second time. Every name returned fits its rules.
    """
    result: list[str | None] = [None] * len(wanted)
    taken: set[str] = set()
    unfit: list[tuple[str, int]] = []
    for index, (namer, name) in enumerate(wanted):
        exposed = namer.name(name)
        if not namer.rules.fits(exposed):
            unfit.append((subject(namer.namespace, name), index))
        elif exposed not in taken:
            taken.add(exposed)
            result[index] = exposed
    shortened: set[str] = set()
    for canonical, index in sorted(unfit):
        if canonical in shortened:
            continue
        namer, name = wanted[index]
        exposed = namer.name(name)
        rules = namer.rules
        # Up to the whole digest, while the cut leaves the prefix (namespace and separator) whole.
        for digits in range(HASH_DIGITS, 65, 4):
            if rules.max_length - 1 - digits < len(exposed) - len(name):
                break
            short = rules.shorten(exposed, canonical, digits)
            if short not in taken:
                taken.add(short)
                shortened.add(canonical)
                result[index] = short
                break
    return result
