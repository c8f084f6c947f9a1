"""Verifying a JWT access token: algorithm, key, signature, issuer, audience, lifetime.

Each refusal raises `InvalidToken` with a message that tells the client what was wrong, and
nothing the client could not already read in its own token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt

from micro_mcp.errors import InvalidToken
from micro_mcp.identity.keys import KeySet


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
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
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
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


def check_lifetime(claims: dict[str, Any], now: float, leeway: float) -> None:
    """Refuse a token past `exp` or before `nbf`/`iat`, each with `leeway` seconds of skew.

    Raises:
        InvalidToken: expired, not valid yet, or a time claim that is not a number.
    """
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidToken(f"malformed token: {name!r} is not a number")
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
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
