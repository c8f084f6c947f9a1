"""Verifying a JWT access token: algorithm, key, signature, issuer, audience, lifetime.

Each refusal raises `InvalidToken` with a message that tells the client what was wrong, and
nothing the client could not already read in its own token.

A client sends the same token with every call until it expires, so the claims of a token that
passed are kept, by the token's SHA-256, in a bounded cache: a token seen before costs a hash
and a lookup, not a signature check (~15x less). Its lifetime is still checked on every use, and
the cache is dropped when the issuer's key set changes (a key withdrawn takes its tokens along).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Final

import jwt
import orjson

from micro_mcp.errors import InvalidToken
from micro_mcp.identity.keys import KeySet

_COMPACT: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\Z")
"""A JWS in compact form; the signature is empty only with `alg: none`, refused anyway."""


class JwtVerifier:
    """Checks JWTs signed by one issuer for one audience (this gateway's resource URL)."""

    def __init__(
        self,
        keys: KeySet,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...],
        leeway: float,
        cache_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.cache_size = cache_size
        self._verified: OrderedDict[bytes, dict[str, Any]] = OrderedDict()
        self._generation = keys.generation
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self._clock = clock
        # Lifetime is checked here, against `clock`, so that tests can move time; PyJWT checks
        # the rest. `require` makes a token without these claims a refusal, not a pass.
        self._options: dict[str, Any] = {
            "verify_exp": False,
            "verify_nbf": False,
            "verify_iat": False,
            "require": ["exp", "iss", "aud"],
        }

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims once every check passed.

        Raises:
            InvalidToken: the token is malformed, or fails a check; the message says which.
        """
        if self._generation != self.keys.generation:
            self._verified.clear()
            self._generation = self.keys.generation
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._verified.get(digest)
        if claims is not None:
            check_lifetime(claims, self._clock(), self.leeway)
            self._verified.move_to_end(digest)
            return claims
        claims = await self._verify(token)
        if self.cache_size > 0 and self._generation == self.keys.generation:
            self._verified[digest] = claims
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return claims

    async def _verify(self, token: str) -> dict[str, Any]:
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise InvalidToken(_refused_algorithm(alg, self.algorithms))
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidToken("malformed token: 'kid' is not a string")
        key = self.keys.known(kid) or await self.keys.find(kid)
        if key is None:
            raise InvalidToken(f"unknown signing key (kid {kid!r}): the issuer does not publish it")
        if not key.fits(alg):
            raise InvalidToken(f"the key {kid!r} is not for algorithm {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                options=self._options,  # pyright: ignore[reportArgumentType] - PyJWT's TypedDict
            )
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("the token's signature does not verify") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken(
                f"the token is not for this resource: its audience must be {self.audience}"
            ) from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken(f"the token is from another issuer: expected {self.issuer}") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"the token has no {exc.claim!r} claim") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        check_lifetime(claims, self._clock(), self.leeway)
        return claims


def _header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to choose the key: PyJWT reads it again, strictly, as it
    verifies. (Its own reader checks base64 a character at a time, ~18 us of a ~60 us check.)

    Raises:
        InvalidToken: the token is not three base64url parts, or its header is not a JSON object.
    """
    if not _COMPACT.match(token):
        raise InvalidToken("malformed token: not three base64url parts (header.payload.signature)")
    encoded = token[: token.index(".")]
    try:
        header = orjson.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidToken("malformed token: its header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise InvalidToken("malformed token: its header is not a JSON object")
    return header  # pyright: ignore[reportUnknownVariableType] - JSON from the wire


def check_lifetime(claims: dict[str, Any], now: float, leeway: float) -> None:
    """Refuse a token past `exp` or before `nbf`/`iat`, each with `leeway` seconds of skew.

    Raises:
        InvalidToken: expired, not valid yet, or a time claim that is not a number.
    """
    times: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidToken(f"malformed token: {name!r} is not a number")
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.nan
        if not math.isfinite(seconds):
            raise InvalidToken(f"malformed token: {name!r} is not a time")
        times[name] = seconds
    exp, nbf, iat = times.get("exp"), times.get("nbf"), times.get("iat")
    if exp is not None and now >= exp + leeway:
        raise InvalidToken("the token has expired")
    if nbf is not None and now < nbf - leeway:
        raise InvalidToken("the token is not valid yet (nbf is in the future)")
    if iat is not None and now < iat - leeway:
        raise InvalidToken("the token was issued in the future (iat); check the clocks")


def _refused_algorithm(alg: object, accepted: frozenset[str]) -> str:
    allowed = ", ".join(sorted(accepted))
    if alg == "none" or (isinstance(alg, str) and alg.lower() == "none"):
        return f"unsigned tokens (alg none) are refused; accepted: {allowed}"
    if isinstance(alg, str) and alg.upper().startswith("HS"):
        return (
            f"HMAC-signed tokens ({alg}) are refused: the issuer signs with a key pair; "
            f"accepted: {allowed}"
        )
    return f"algorithm {alg!r} is not accepted; accepted: {allowed}"
