"""Authentication by static token and the allowlist decision. Synchronous and pure."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from micro_mcp.policy.model import Decision, Policy, Principal
from micro_mcp.policy.rules import Call, Kind, RuleSet

ANONYMOUS = "anonymous"
"""The principal's name when the gateway is configured without tokens."""


def token_digest(token: str) -> bytes:
    """The SHA-256 of a token's UTF-8 bytes: what the gateway keeps instead of the token."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Maps a presented static token to the principal that owns it, by the token's digest."""

    principals: Mapping[str, tuple[bytes, Principal]]
    """Principal name -> (SHA-256 of its token, principal)."""
    open_principal: Principal | None
    """Who an unauthenticated caller is when no credential is configured; None otherwise."""

    def authenticate(self, token: str | None) -> Principal | None:
        """The principal for `token`, or None when the token is missing or wrong.

        The presented token's digest is compared with every configured one, in constant time,
        so the time taken does not tell which principal a guess came close to (and comparing
        digests, the time does not depend on the length of the secret either).
        """
        if self.open_principal is not None:
            return self.open_principal
        presented = token_digest(token or "")
        found: Principal | None = None
        for expected, principal in self.principals.values():
            if hmac.compare_digest(presented, expected) and found is None:
                found = principal
        return found


def evaluate(
    principal: Principal,
    subject: str,
    rules: RuleSet | None = None,
    kind: Kind = "tools",
    call: Call | None = None,
) -> Decision:
    """Decide whether `principal` may use `subject` (a canonical `namespace.name`): its policy
    must allow it, and then the `rules`, when there are any, must allow this `call` of it
    (`call` None: the item as a listing shows it)."""
    policy: Policy = principal.policy
    if not policy.allows(subject):
        return Decision(False, subject, f"policy of principal {principal.name!r} does not allow it")
    if rules is None:
        return Decision(True, subject, "allowed")
    return rules.view(principal).decide(kind, subject, call)
