"""From a token's claims to a `Principal`: its name, groups, scopes and policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from micro_mcp.errors import InvalidToken
from micro_mcp.policy.model import Policy, Principal

PREFIX: Final = "oauth:"
"""Names of token holders start with this, so none is mistaken for a configured principal."""
MAX_CLAIM_ITEMS: Final = 256
"""Groups or scopes read from a token at most; a token listing more is refused."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Token holders matching `value` (by subject, group or scope) get `policy`."""

    kind: Literal["subject", "group", "scope"]
    value: str
    policy: Policy


@dataclass(frozen=True, slots=True)
class ClaimMap:
    """Which claims name the caller, its groups and scopes; which policy each caller gets."""

    principal_claim: str
    groups_claim: str
    scope_claims: tuple[str, ...]
    grants: tuple[Grant, ...]
    default_policy: Policy

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        """The principal a verified token speaks for.

        Raises:
            InvalidToken: the token does not name its caller, or lists groups or scopes oddly.
        """
        subject = claims.get(self.principal_claim)
        if not isinstance(subject, str) or not subject:
            raise InvalidToken(f"the token has no {self.principal_claim!r} claim naming its caller")
        groups = _strings(claims.get(self.groups_claim), self.groups_claim)
        scopes: frozenset[str] = frozenset()
        for name in self.scope_claims:
            if name in claims:
                scopes = _strings(claims[name], name)
                break
        return Principal(PREFIX + subject, self._policy(subject, groups, scopes), groups, scopes)

    def _policy(self, subject: str, groups: frozenset[str], scopes: frozenset[str]) -> Policy:
        for grant in self.grants:
            held = {"subject": {subject}, "group": groups, "scope": scopes}[grant.kind]
            if grant.value in held:
                return grant.policy
        return self.default_policy


def _strings(value: Any, claim: str) -> frozenset[str]:
    """A claim that lists names: a JSON list of strings, or one space-separated string."""
    if value is None:
        return frozenset()
    items: Any = value.split() if isinstance(value, str) else value
    if not isinstance(items, list):
        raise InvalidToken(f"malformed token: {claim!r} is not a list of strings")
    names = cast("list[Any]", items)
    if not all(isinstance(name, str) for name in names):
        raise InvalidToken(f"malformed token: {claim!r} is not a list of strings")
    if len(names) > MAX_CLAIM_ITEMS:
        raise InvalidToken(f"malformed token: {claim!r} lists over {MAX_CLAIM_ITEMS} items")
    return frozenset(names)
