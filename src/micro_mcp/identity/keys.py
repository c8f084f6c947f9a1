"""The issuer's signing keys (JWKS): fetched, cached, refreshed on an unknown `kid` within bounds.

A request whose key is cached never waits on the issuer. Only a token naming a key the cache
does not hold prompts a fetch, and at most one fetch runs at a time and at most one starts per
`refresh_interval`: a flood of made-up `kid`s costs the issuer one request per interval, and
those that arrive in between are refused at once. A fetch that fails keeps the keys held.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
import jwt

logger = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[Mapping[str, Any]]]
"""Returns the JWKS document, or raises `OSError` or `ValueError` (unreachable, not a JWKS)."""

KEY_TYPES: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
"""The JWK `kty` each family of JWS algorithms needs, by the algorithm's first two letters."""
CURVES: Final = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
"""The curve each ECDSA algorithm is defined on (RFC 7518 §3.4)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One public key of the issuer, ready for PyJWT."""

    key: Any
    """The `cryptography` public key object."""
    kty: str
    crv: str | None
    alg: str | None
    """The algorithm the JWK is restricted to, if it names one."""

    def fits(self, alg: str) -> bool:
        """Whether a token signed with `alg` may be checked with this key."""
        if self.alg is not None and self.alg != alg:
            return False
        if KEY_TYPES.get(alg[:2]) != self.kty:
            return False
        return alg not in CURVES or CURVES[alg] == self.crv


def parse(document: Mapping[str, Any]) -> dict[str | None, SigningKey]:
    """The signing keys of a JWKS document by `kid`; keys for encryption, of unknown types, or
    unreadable are skipped.

    Raises:
        ValueError: the document is not a JWKS (no `keys` list).
    """
    entries: Any = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document: no 'keys' list")
    keys: dict[str | None, SigningKey] = {}
    for entry in entries:  # pyright: ignore[reportUnknownVariableType] - JSON from the wire
        if not isinstance(entry, dict):
            continue
        jwk: dict[str, Any] = entry  # pyright: ignore[reportUnknownVariableType] - JSON
        if jwk.get("use", "sig") != "sig":
            continue
        kid = jwk.get("kid")
        try:
            key = jwt.PyJWK(jwk).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            logger.warning("skipping an unusable key %r in the issuer's JWKS: %s", kid, exc)
            continue
        if kid is None or isinstance(kid, str):
            alg, crv = jwk.get("alg"), jwk.get("crv")
            keys[kid] = SigningKey(
                key,
                str(jwk.get("kty")),
                crv if isinstance(crv, str) else None,
                alg if isinstance(alg, str) else None,
            )
    return keys


class KeySet:
    """The issuer's keys as last fetched, with the rules for fetching them again."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        refresh_interval: float,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.refresh_interval = refresh_interval
        self.timeout = timeout
        self._clock = clock
        self._keys: dict[str | None, SigningKey] = {}
        self._published: Any = None
        self._attempted: float | None = None
        self._lock = anyio.Lock()
        self.fetches = 0
        """Fetches started so far (for tests and the operator)."""
        self.generation = 0
        """Bumped whenever a fetch brings a key set different from the one held: what was
        verified with the old set is verified again."""

    def known(self, kid: str | None) -> SigningKey | None:
        """The cached key `kid`; a token without `kid` gets the only key, if there is one."""
        key = self._keys.get(kid)
        if key is None and kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return key

    async def find(self, kid: str | None) -> SigningKey | None:
        """The key `kid`, fetching the set again if it is unknown and the last fetch is at
        least `refresh_interval` old; None if it is still unknown."""
        key = self.known(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self.known(kid)  # another request's fetch may have brought it meanwhile
            if key is not None or not self._may_fetch():
                return key
            await self._refresh()
            return self.known(kid)

    async def refresh(self) -> None:
        """Fetch the set now (the routine refresh), whatever the interval."""
        async with self._lock:
            await self._refresh()

    def _may_fetch(self) -> bool:
        return self._attempted is None or self._clock() - self._attempted >= self.refresh_interval

    async def _refresh(self) -> None:
        self._attempted = self._clock()
        self.fetches += 1
        try:
            with anyio.fail_after(self.timeout):
                document = await self._fetch()
            keys = parse(document)
            published = document.get("keys")
        except TimeoutError:
            logger.warning(
                "the issuer's JWKS did not arrive within %s s; keeping the keys held", self.timeout
            )
            return
        except (OSError, ValueError) as exc:
            logger.warning("could not fetch the issuer's JWKS (%s); keeping the keys held", exc)
            return
        if published != self._published:
            self.generation += 1
            self._published = published
        self._keys = keys
