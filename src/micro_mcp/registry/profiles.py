"""Profiles: named subsets of the catalog (virtual servers), resolved against the services'
tags. Pure: a profile answers, for a canonical `namespace.name` subject, whether it holds it.

A profile holds an item when its service is listed, or carries one of the profile's tags, or
its subject matches an `include` glob; and its subject matches no `exclude` glob. A profile
with no `services`, `tags` or `include` holds everything but what it excludes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from micro_mcp.config.profiles import ProfileSpec
from micro_mcp.policy.model import Policy

_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True, slots=True)
class Profile:
    """One profile, resolved: the namespaces it holds whole and the globs it matches."""

    name: str
    description: str = ""
    namespaces: frozenset[str] = frozenset()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    everything: bool = False
    """Neither services, tags nor include patterns: the whole catalog, minus `exclude`."""
    _include: Policy | None = field(init=False, repr=False, compare=False, default=None)
    _exclude: Policy | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.include:
            object.__setattr__(self, "_include", Policy(allow=self.include))
        if self.exclude:
            object.__setattr__(self, "_exclude", Policy(allow=self.exclude))

    def holds(self, subject: str) -> bool:
        """Whether the item with canonical `subject` (`namespace.name`) is in the profile."""
        if self._exclude is not None and self._exclude.allows(subject):
            return False
        if self.everything:
            return True
        if subject.partition(".")[0] in self.namespaces:
            return True
        return self._include is not None and self._include.allows(subject)

    def may_hold(self, namespace: str) -> bool:
        """Whether any item of `namespace` could be in the profile (never False for one that
        is): a list change of a service outside it concerns no client of the profile."""
        if self.everything or namespace in self.namespaces:
            return True
        prefix = namespace + "."
        for pattern in self.include:
            literal = _GLOB_CHARS.split(pattern, 1)[0]
            if literal.startswith(prefix) or prefix.startswith(literal):
                return True
        return False


def resolve(
    specs: Mapping[str, ProfileSpec], tags: Mapping[str, Iterable[str]]
) -> dict[str, Profile]:
    """The profiles of the config, with tags turned into the namespaces that carry them
    (`tags`: namespace -> the tags of its manifest entry)."""
    resolved: dict[str, Profile] = {}
    for name, spec in specs.items():
        wanted = set(spec.tags)
        namespaces = set(spec.services)
        namespaces.update(ns for ns, own in tags.items() if wanted.intersection(own))
        resolved[name] = Profile(
            name,
            spec.description,
            frozenset(namespaces),
            spec.include,
            spec.exclude,
            everything=not (spec.services or spec.tags or spec.include),
        )
    return resolved
