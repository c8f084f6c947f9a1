"""The sealed `requestState` of the gateway's own consent question to a 2026-07-28 client.

A 2026-07-28 client answers `input_required` by calling again with the answers and the
`requestState` it was given; nothing else ties the second call to the first. So the state says
what was asked (principal, tool, a hash of the arguments), until when, with a one-time nonce,
and carries an HMAC-SHA256 under a key only the gateway holds: a client can neither forge one
nor move an approval to other arguments, another tool or another principal. Pure: no I/O, the
clock is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

import orjson

PREFIX: Final = "micro-mcp.consent.v1."
"""Starts every state the gateway seals, so it is told apart from a service's own
`requestState` (which passes through untouched)."""

KEY_BYTES: Final = 32
"""Size of a generated sealing key."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What a consent state vouches for."""

    principal: str
    tool: str
    """The canonical `namespace.name` subject."""
    arguments: str
    """SHA-256 (hex) of the arguments' canonical JSON."""
    expires: float
    """Unix time after which the state is refused."""
    nonce: str
    """Unique per state: a state cannot be used twice."""
    resume: bool = False
    """False: the gateway's question, answered in the same call. True: a service's own input
    round of a call already approved, to be resumed without a second question."""
    inner: str | None = None
    """With `resume`: the service's own `requestState`, given back to it untouched."""


class Forged(ValueError):
    """A state that is not the gateway's, was altered, or is malformed."""


class Sealer:
    """Seals and opens consent states under one key (random per process unless given, so
    replicas that share a key can open each other's)."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | None = None) -> None:
        if key is not None and len(key) < 16:
            raise ValueError("a consent sealing key needs at least 16 bytes")
        self._key = key if key is not None else secrets.token_bytes(KEY_BYTES)

    def seal(
        self,
        principal: str,
        tool: str,
        arguments: str,
        expires: float,
        *,
        resume: bool = False,
        inner: str | None = None,
    ) -> str:
        """A new state with a fresh nonce: for the gateway's question, or (`resume`) wrapping
        a service's own state (`inner`, if it gave one) in a round of an approved call."""
        payload: dict[str, Any] = {
            "p": principal,
            "t": tool,
            "a": arguments,
            "e": expires,
            "n": secrets.token_urlsafe(12),
        }
        if resume:
            payload["r"] = True
            if inner is not None:
                payload["s"] = inner
        body = _encode(orjson.dumps(payload))
        return f"{PREFIX}{body}.{_encode(self._mac(body))}"

    def open(self, state: str, now: float) -> Claim:
        """The claim a state vouches for; the caller still checks it matches the call.

        Raises:
            Forged: the state is not one this key sealed, was altered, or is malformed.
            Expired: it was genuine but its time is up.
        """
        if not state.startswith(PREFIX):
            raise Forged("not a consent state of this gateway")
        body, dot, mac = state[len(PREFIX) :].partition(".")
        # Compared as text, so no other spelling of the same bytes (base64's spare bits) passes.
        if not dot or not hmac.compare_digest(mac.encode(), _encode(self._mac(body)).encode()):
            raise Forged("the consent state's seal does not match")
        try:
            claim = _claim(orjson.loads(_decode(body)))
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise Forged("the consent state is malformed") from exc
        if claim.expires <= now:
            raise Expired("the consent request expired; call again to be asked anew")
        return claim

    def _mac(self, body: str) -> bytes:
        """The HMAC-SHA256 of the state's body text."""
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()


class Expired(ValueError):
    """A genuine state past its time."""


def _claim(payload: Any) -> Claim:
    fields = (payload["p"], payload["t"], payload["a"], payload["n"])
    expires, resume, inner = payload["e"], payload.get("r", False), payload.get("s")
    if (
        not all(isinstance(f, str) for f in fields)
        or not isinstance(expires, int | float)
        or not isinstance(resume, bool)
        or not isinstance(inner, str | None)
    ):
        raise TypeError("bad field types")
    principal, tool, arguments, nonce = fields
    return Claim(principal, tool, arguments, float(expires), nonce, resume, inner)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, UnicodeEncodeError):
        return b""
