"""Principals and decisions as immutable records."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import translate


@dataclass(frozen=True, slots=True)
class Policy:
    """Compiled allow and deny globs over canonical `namespace.name` subjects."""

    allow: tuple[str, ...] = ("*",)
    deny: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    """Profiles the caller is held to, its default first; empty: none (the whole catalog)."""
    _allow: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _deny: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # One alternation per list: a 10,000-tool catalog is filtered in one regex pass per name.
        object.__setattr__(self, "_allow", _compile(self.allow) or re.compile(r"(?!)"))
        object.__setattr__(self, "_deny", _compile(self.deny))

    def allows(self, subject: str) -> bool:
        """True when `subject` matches an allow pattern and no deny pattern."""
        if self._deny is not None and self._deny.match(subject):
            return False
        return self._allow.match(subject) is not None


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{translate(p)})" for p in patterns))


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller: its name (for audit), its policy, and what its credential says of it."""

    name: str
    policy: Policy
    groups: frozenset[str] = frozenset()
    """Groups the caller belongs to (from the config, or a token's claims)."""
    scopes: frozenset[str] = frozenset()
    """OAuth scopes its token was granted; empty for a static token."""


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of a policy check, with the reason kept for the audit trail."""

    allowed: bool
    subject: str
    reason: str
    rule: str | None = None
    """The id of the rule that decided, when a rule did."""
    consent: bool = False
    """Allowed only once the human approves the call (a `consent` rule decided)."""
