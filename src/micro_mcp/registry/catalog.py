"""The merged catalog: every service's tools, prompts, resources and templates under namespaces.

A `Catalog` is an immutable snapshot. A refresh builds a new one and swaps it in, so a request
sees one consistent catalog from start to end, and a cursor can keep pointing into the snapshot
it was cut from.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from micro_mcp.config.profiles import ToolOverride
from micro_mcp.errors import Held
from micro_mcp.policy.model import Policy
from micro_mcp.policy.rules import Kind, RuleView
from micro_mcp.protocol import names, uris
from micro_mcp.protocol.names import Namer
from micro_mcp.registry import overrides as overriding
from micro_mcp.registry.profiles import Profile

logger = logging.getLogger(__name__)

KINDS: Final = ("tools", "prompts", "resources", "resourceTemplates")
"""The list kinds, by the key their list results carry them under."""
_KEY: Final = {
    "tools": "name",
    "prompts": "name",
    "resources": "uri",
    "resourceTemplates": "uriTemplate",
}
"""The field that identifies an item of each kind and that namespacing rewrites."""
_RULE_KIND: Final[dict[str, Kind]] = {
    "tools": "tools",
    "prompts": "prompts",
    "resources": "resources",
    "resourceTemplates": "resources",
}
"""Which rules decide on a list kind: resource rules cover templates too."""


@dataclass(frozen=True, slots=True)
class ServiceCatalog:
    """One service's lists, as the service sent them."""

    tools: tuple[dict[str, Any], ...] = ()
    prompts: tuple[dict[str, Any], ...] = ()
    resources: tuple[dict[str, Any], ...] = ()
    resource_templates: tuple[dict[str, Any], ...] = ()

    def items(self, kind: str) -> tuple[dict[str, Any], ...]:
        """The items of one kind."""
        return self.resource_templates if kind == "resourceTemplates" else getattr(self, kind)


@dataclass(frozen=True, slots=True)
class Route:
    """Where an exposed name leads: the owning service and the name it knows."""

    namespace: str
    name: str
    subject: str
    """Canonical `namespace.name`, for policy and audit."""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A listed name the catalog does not expose: it reads as another service's, or clashes."""

    namespace: str
    kind: str
    name: str
    """As the service lists it."""
    reason: str

    def describe(self) -> str:
        """One line for logs and `/admin`."""
        return f"{self.kind[:-1]} {self.name!r} of service {self.namespace} refused: {self.reason}"


@dataclass(slots=True)
class _View:
    items: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    subjects: list[str] = field(default_factory=list[str])


class Catalog:
    """An immutable snapshot of what the gateway exposes."""

    def __init__(self, generation: int, namers: dict[str, Namer]) -> None:
        self.generation = generation
        self.namers = namers
        """Namespace -> how its names appear, for every configured service (up or not)."""
        self.unprefixed = next((ns for ns, n in namers.items() if not n.prefixed), None)
        self._views: dict[str, _View] = {kind: _View() for kind in KINDS}
        self._tools: dict[str, Route] = {}
        self._tool_items: dict[str, dict[str, Any]] = {}
        self._prompts: dict[str, Route] = {}
        self._filtered: dict[
            tuple[str, Policy, RuleView | None, Profile | None], list[dict[str, Any]]
        ] = {}
        self.fixed: dict[str, dict[str, Any]] = {}
        """Exposed tool name -> the arguments the gateway fills in (overrides' `fixed`)."""
        self._withheld: set[str] = set()
        """Own names of the unprefixed service's overridden tools: never reached by them."""
        self._fixed_own: dict[tuple[str, str], dict[str, Any]] = {}
        self._fingerprints: dict[str, int] = {}
        self.refused: list[Refusal] = []
        """Names not exposed because they read as another service's or clash, in list order."""
        self.held: dict[str, tuple[str, str]] = {}
        """Exposed tool or prompt name -> (canonical `ns.name`, why) for what pinning holds back."""

    @classmethod
    def build(
        cls,
        generation: int,
        namers: dict[str, Namer],
        services: dict[str, ServiceCatalog],
        held: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        overrides: Mapping[str, Mapping[str, ToolOverride]] | None = None,
    ) -> Catalog:
        """Merge the services' lists, in manifest order, into a new snapshot. `held` names,
        per namespace, the (tool or prompt name, why) pinning holds back: calls to them are
        refused with `Held`. A name that reads as another service's is refused (`refused`).
        `overrides` (namespace -> own tool name -> override) change how tools are shown."""
        catalog = cls(generation, namers)
        for namespace, entries in (held or {}).items():
            if (namer := namers.get(namespace)) is not None:
                catalog.held.update(
                    (namer.name(name), (names.subject(namespace, name), why))
                    for name, why in entries
                )
        for kind in KINDS:
            key = _KEY[kind]
            listed = [
                (namer, item, item[key], item[key])
                for namespace, namer in namers.items()
                if (service := services.get(namespace)) is not None
                for item in service.items(kind)
                if isinstance(item.get(key), str)
            ]
            if kind == "tools" and overrides:
                listed = catalog._override(listed, overrides)
            listed = [entry for entry in listed if catalog._owned(kind, entry[0], entry[3])]
            if key == "name":
                exposed = names.expose([(namer, shown) for namer, _, _, shown in listed])
            else:
                exposed = [namer.uri(original) for namer, _, original, _ in listed]
            for (namer, item, original, _), name in zip(listed, exposed, strict=True):
                catalog._add(kind, namer, item, original, name)
        return catalog

    def _override(
        self,
        listed: list[tuple[Namer, dict[str, Any], str, str]],
        overrides: Mapping[str, Mapping[str, ToolOverride]],
    ) -> list[tuple[Namer, dict[str, Any], str, str]]:
        """The tools as their overrides show them: (namer, shown item, own name, shown name)."""
        result: list[tuple[Namer, dict[str, Any], str, str]] = []
        for namer, item, original, _ in listed:
            override = overrides.get(namer.namespace, {}).get(original)
            if override is None:
                result.append((namer, item, original, original))
                continue
            if not namer.prefixed:
                self._withheld.add(original)
            tool = overriding.shown(item, override)
            if override.fixed:
                self._fixed_own[namer.namespace, original] = override.fixed
            if tool is not None:
                result.append((namer, tool, original, override.name or original))
        return result

    def _owned(self, kind: str, namer: Namer, original: str) -> bool:
        uri = _KEY[kind] != "name"
        exposed = namer.uri(original) if uri else namer.name(original)
        other = names.claimant(exposed, namer.namespace, self.namers, uri=uri)
        if other is None:
            return True
        reason = f"{exposed!r} reads as a name of service {other}"
        self.refused.append(Refusal(namer.namespace, kind, original, reason))
        return False

    def _add(
        self, kind: str, namer: Namer, item: dict[str, Any], original: str, exposed: str | None
    ) -> None:
        index = self._tools if kind == "tools" else self._prompts if kind == "prompts" else None
        subject = names.subject(namer.namespace, original)
        if index is not None:
            if exposed is None:
                holder = index.get(namer.name(original))
                clash = f"service {holder.namespace}" if holder else "a name already listed"
                reason = f"{namer.name(original)!r} clashes with {clash}"
                self.refused.append(Refusal(namer.namespace, kind, original, reason))
                return
            index[exposed] = Route(namer.namespace, original, subject)
        assert exposed is not None, "only names can clash"
        renamed = dict(item)
        renamed[_KEY[kind]] = exposed
        if kind == "tools":
            self._tool_items[exposed] = renamed
            fixed = self._fixed_own.get((namer.namespace, original)) if self._fixed_own else None
            if fixed:
                self.fixed[exposed] = fixed
        view = self._views[kind]
        view.items.append(renamed)
        view.subjects.append(subject)

    def count(self, kind: str) -> int:
        """How many items of `kind` the catalog holds (before policy)."""
        return len(self._views[kind].items)

    def items(self, kind: str) -> list[dict[str, Any]]:
        """Every item of `kind` as listed (exposed names), before policy; do not modify."""
        return self._views[kind].items

    def fingerprint(self, kind: str) -> int:
        """A digest of the list of `kind` (63 bits of SHA-256 over its items' JSON), for cursors:
        gateways whose services list the same items agree on it, so a cursor cut by one
        replica pages on another. Computed once per snapshot and kind, when first asked."""
        found = self._fingerprints.get(kind)
        if found is None:
            digest = hashlib.sha256(orjson.dumps(self._views[kind].items)).digest()
            found = self._fingerprints[kind] = int.from_bytes(digest[:8]) >> 1
        return found

    def visible(
        self,
        kind: str,
        principal: str,
        policy: Policy,
        rules: RuleView | None = None,
        profile: Profile | None = None,
    ) -> list[dict[str, Any]]:
        """The items of `kind` that `policy` allows and, when given, the `rules` list and the
        `profile` holds; computed once per snapshot, principal, rule view and profile."""
        key = (kind + "\0" + principal, policy, rules, profile)
        found = self._filtered.get(key)
        if found is None:
            view = self._views[kind]
            pairs = zip(view.items, view.subjects, strict=True)
            if profile is not None:
                pairs = [(item, s) for item, s in pairs if profile.holds(s)]
            if rules is None:
                found = [item for item, s in pairs if policy.allows(s)]
            else:
                rule_kind = _RULE_KIND[kind]
                found = [
                    item for item, s in pairs if policy.allows(s) and rules.lists(rule_kind, s)
                ]
            self._filtered[key] = found
        return found

    def tool(self, exposed: str) -> Route | None:
        """The route of an exposed tool name, else to the service mounted without prefix
        (unless an override renamed, hid or fixed arguments of its tool of that name).

        Raises:
            Held: pinning holds the tool back until an operator approves it.
        """
        route = self._tools.get(exposed)
        if route is not None:
            return route
        return None if exposed in self._withheld else self._unlisted(exposed)

    def tool_item(self, exposed: str) -> dict[str, Any] | None:
        """The tool as listed (exposed name), for its input schema."""
        return self._tool_items.get(exposed)

    def prompt(self, exposed: str) -> Route | None:
        """The route of an exposed prompt name, else to the service mounted without prefix.

        Raises:
            Held: pinning holds the prompt back until an operator approves it.
        """
        return self._prompts.get(exposed) or self._unlisted(exposed)

    def _unlisted(self, exposed: str) -> Route | None:
        # Off the hot path: only names no service lists get here.
        held = self.held.get(exposed)
        if held is not None:
            canonical, why = held
            raise Held(
                f"{exposed} is held back by pinning: {why}; an operator approves it with "
                f"`micro-mcp approve {canonical}`",
                data={"service": canonical.partition(".")[0], "name": exposed, "change": why},
            )
        if names.claimant(exposed, "", self.namers) is not None:
            return None  # another service's name, even while that service is down
        return self._to_unprefixed(exposed)

    def _to_unprefixed(self, name: str) -> Route | None:
        # A name no service listed goes to the service mounted without prefix, as an unknown
        # URI does: that service answers for its own names, listed or not, as it would alone.
        if self.unprefixed is None:
            return None
        return Route(self.unprefixed, name, names.subject(self.unprefixed, name))

    def task(self, exposed_id: str) -> Route | None:
        """The route of a task id: exposed like a URI (`ns+id`), else the unprefixed service's.
        Ids are opaque: they are never normalised."""
        return self._by_prefix(exposed_id, normal=False)

    def resource(self, exposed_uri: str) -> Route | None:
        """The route of an exposed resource URI: by its namespace prefix, else to the service
        mounted without prefix. The route's name is the service's URI in normal form
        (`protocol/uris.py`), which policy matches and the service is sent, so the service
        reads exactly what was authorised.

        Raises:
            McpError: INVALID_PARAMS, the URI escapes a path separator.
        """
        return self._by_prefix(exposed_uri, normal=True)

    def _by_prefix(self, exposed: str, *, normal: bool) -> Route | None:
        split = names.split_uri(exposed)
        if split is not None:
            namespace, uri = split
            namer = self.namers.get(namespace)
            if namer is not None and namer.prefixed:
                uri = uris.normalize(uri) if normal else uri
                return Route(namespace, uri, names.subject(namespace, uri))
        if normal and self.unprefixed is not None:
            return self._to_unprefixed(uris.normalize(exposed))
        return self._to_unprefixed(exposed)
