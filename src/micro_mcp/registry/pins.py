"""Tool pinning, the pure part: what a definition's digest is, which ones are held, and a diff.

A service's tools, prompts and resource templates are each reduced to a canonical JSON text of
the fields a model reads (a tool's name, title, description, input and output schemas and
annotations; a prompt's name, title, description and arguments; a template's URI template,
name, title, description, MIME type and annotations), keys sorted, no whitespace. Its SHA-256 is
the digest an operator approves. `judge` compares one service's catalog with the approved
digests and says what is kept, what is held back and what is approved on first sight:

| mode     | first sight      | changed since approval |
|----------|------------------|------------------------|
| `pin`    | approved (TOFU)  | held                   |
| `review` | held             | held                   |
| `warn`   | approved (TOFU)  | kept, reported         |
| `off`    | not looked at    | not looked at          |

A definition larger than the limit is held in `pin` and `review` whatever was approved, so a
service cannot make the gateway hash, store and diff megabytes. Resources are data, not
instructions to a model, and are not pinned. No I/O here: the store is `pin_store.py`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, cast

import orjson

from micro_mcp.config.pinning import DEFAULT_MAX_BYTES, Mode
from micro_mcp.registry.catalog import ServiceCatalog

Kind = Literal["tools", "prompts", "resourceTemplates"]
Key = tuple[str, str, str]
"""(namespace, kind, name): what one pin is about."""

PINNED: Final[dict[Kind, tuple[str, ...]]] = {
    "tools": ("name", "title", "description", "inputSchema", "outputSchema", "annotations"),
    "prompts": ("name", "title", "description", "arguments"),
    "resourceTemplates": (
        "uriTemplate",
        "name",
        "title",
        "description",
        "mimeType",
        "annotations",
    ),
}
"""The fields of each kind that are hashed: what a model reads, not `_meta` or icons."""
_ID: Final[dict[Kind, str]] = {
    "tools": "name",
    "prompts": "name",
    "resourceTemplates": "uriTemplate",
}


@dataclass(frozen=True, slots=True)
class Pin:
    """One definition as pinned: its key, the SHA-256 of `body`, and `body`, the canonical JSON."""

    namespace: str
    kind: Kind
    name: str
    digest: str
    body: str

    @property
    def key(self) -> Key:
        """(namespace, kind, name)."""
        return (self.namespace, self.kind, self.name)

    @property
    def label(self) -> str:
        """`ns.name` and the kind, for people."""
        return f"{self.kind[:-1]} {self.namespace}.{self.name}"


@dataclass(frozen=True, slots=True)
class Hold:
    """A definition held back: the new one, the approved one it differs from (None: never
    approved), and why (`changed`, `new` or `too large`)."""

    pin: Pin
    approved: Pin | None
    reason: str

    def describe(self) -> str:
        """One line naming the item and the change."""
        if self.reason == "changed" and self.approved is not None:
            fields = changed_fields(self.approved.body, self.pin.body)
            return f"{self.pin.label} changed since it was approved ({', '.join(fields)})"
        if self.reason == "new":
            return f"{self.pin.label} is new and waits for approval (pinning: review)"
        return f"{self.pin.label} has a definition of {len(self.pin.body)} bytes, over the limit"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `judge` decided for one service."""

    kept: ServiceCatalog
    """The catalog without what is held."""
    held: tuple[Hold, ...] = ()
    first_seen: tuple[Pin, ...] = ()
    """Definitions approved on first sight (trust on first use), to record."""
    drifted: tuple[Hold, ...] = ()
    """With `warn`: changes that are reported but kept."""


def canonical(kind: Kind, item: Mapping[str, Any]) -> bytes:
    """The canonical JSON of the pinned fields of `item` (sorted keys, no whitespace)."""
    fields = {f: item[f] for f in PINNED[kind] if f in item}
    return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)


def pin(namespace: str, kind: Kind, item: Mapping[str, Any]) -> Pin | None:
    """The pin of one listed item; None when it has no usable name."""
    name = item.get(_ID[kind])
    if not isinstance(name, str):
        return None
    body = canonical(kind, item)
    return Pin(namespace, kind, name, hashlib.sha256(body).hexdigest(), body.decode())


def judge(
    namespace: str,
    mode: Mode,
    catalog: ServiceCatalog,
    approved: Mapping[Key, Pin],
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Verdict:
    """Compare a service's catalog with the approved pins, as `mode` says (module docstring)."""
    if mode == "off":
        return Verdict(catalog)
    held: list[Hold] = []
    drifted: list[Hold] = []
    first: list[Pin] = []
    kept: dict[str, tuple[dict[str, Any], ...]] = {}
    for kind in PINNED:
        items: list[dict[str, Any]] = []
        for item in catalog.items(kind):
            found = pin(namespace, kind, item)
            if found is None:
                items.append(item)
                continue
            hold = _hold(found, approved.get(found.key), mode, max_bytes)
            if hold is None:
                if found.key not in approved:
                    first.append(found)
                items.append(item)
            elif mode == "warn":
                drifted.append(hold)
                items.append(item)
            else:
                held.append(hold)
        kept[kind] = tuple(items)
    return Verdict(
        replace(
            catalog,
            tools=kept["tools"],
            prompts=kept["prompts"],
            resource_templates=kept["resourceTemplates"],
        ),
        tuple(held),
        tuple(first),
        tuple(drifted),
    )


def _hold(found: Pin, approved: Pin | None, mode: Mode, max_bytes: int) -> Hold | None:
    if len(found.body) > max_bytes:
        return Hold(_trimmed(found), approved, "too large")
    if approved is None:
        return Hold(found, None, "new") if mode == "review" else None
    if approved.digest != found.digest:
        return Hold(found, approved, "changed")
    return None


def _trimmed(found: Pin) -> Pin:
    # What is too large is neither stored nor shown whole: its digest, and a head to recognise it.
    return replace(found, body=found.body[:1024])


def changed_fields(old: str, new: str) -> list[str]:
    """The top-level fields that differ between two canonical bodies."""
    a, b = _fields(old), _fields(new)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k)) or ["encoding"]


def _fields(body: str) -> dict[str, Any]:
    try:
        loaded = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return cast(dict[str, Any], loaded) if isinstance(loaded, dict) else {}


def diff(old: Pin | None, new: Pin) -> str:
    """A unified diff of the approved and the new definition, pretty-printed, for the operator."""
    before = _pretty(old.body) if old is not None else []
    after = _pretty(new.body)
    lines = difflib.unified_diff(
        before, after, fromfile="approved" if old else "(never approved)", tofile="now", n=2
    )
    return "".join(lines)


def _pretty(body: str) -> list[str]:
    loaded = _fields(body)
    text = orjson.dumps(loaded, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    return [line + "\n" for line in text.splitlines()]
