"""RFC 7662 token introspection for opaque access tokens, with a small bounded cache.

Only active answers are cached, by the token's SHA-256 (never the token itself), for at most
`cache_seconds` and never past the token's own `exp`; the least recently used go first.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from micro_mcp.errors import InvalidToken
from micro_mcp.identity.verifier import check_lifetime

Post = Callable[[str], Awaitable[Mapping[str, Any]]]
"""Sends the token to the introspection endpoint and returns its JSON answer.

Raises `UpstreamUnavailable` when the endpoint cannot be reached or answers oddly."""


class Introspector:
    """Asks the authorization server whether an opaque token is active, and for whom."""

    def __init__(
        self,
        post: Post,
        *,
        issuer: str,
        audience: str,
        cache_seconds: float,
        cache_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._post = post
        self.issuer = issuer
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._clock = clock
        self._cache: OrderedDict[bytes, tuple[float, dict[str, Any]]] = OrderedDict()

    async def introspect(self, token: str) -> dict[str, Any]:
        """The claims of an active token meant for this gateway.

        Raises:
            InvalidToken: the token is not active, expired, or for another issuer or audience.
            UpstreamUnavailable: the endpoint could not answer.
        """
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        held = self._cache.get(digest)
        if held is not None:
            until, claims = held
            if now < until:
                self._cache.move_to_end(digest)
                return claims
            del self._cache[digest]
        claims = dict(await self._post(token))
        if claims.get("active") is not True:
            raise InvalidToken("the token is not active (revoked, expired or unknown)")
        check_lifetime(claims, now, 0.0)
        issuer = claims.get("iss")
        if issuer is not None and issuer != self.issuer:
            raise InvalidToken(f"the token is from another issuer: expected {self.issuer}")
        audience: Any = claims.get("aud")
        audiences: list[Any] = audience if isinstance(audience, list) else [audience]  # pyright: ignore[reportUnknownVariableType] - JSON
        if audience is not None and self.audience not in audiences:
            raise InvalidToken(
                f"the token is not for this resource: its audience must be {self.audience}"
            )
        self._remember(digest, claims, now)
        return claims

    def _remember(self, digest: bytes, claims: dict[str, Any], now: float) -> None:
        if self.cache_seconds <= 0 or self.cache_size <= 0:
            return
        until = now + self.cache_seconds
        exp = claims.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            until = min(until, float(exp))
        self._cache[digest] = (until, claims)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
