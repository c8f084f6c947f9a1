"""Who a bearer token belongs to: static tokens, JWT access tokens and introspection, in turn.

A token is first compared with the static tokens (by digest, in constant time). Failing that,
a token shaped as a JWT is verified against the issuer's keys, and any other is introspected,
when those are configured. Static principals are the operator's own: the OAuth scope rules
do not apply to them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any, Final

import aiohttp
import anyio
import orjson
from anyio.abc import TaskStatus

from micro_mcp.config.oauth import OAuthSpec
from micro_mcp.errors import InsufficientScope, InvalidToken, Unauthenticated, UpstreamUnavailable
from micro_mcp.identity import metadata
from micro_mcp.identity.claims import ClaimMap
from micro_mcp.identity.introspection import Introspector, Post
from micro_mcp.identity.keys import Fetch, KeySet
from micro_mcp.identity.verifier import JwtVerifier
from micro_mcp.policy.engine import Authenticator
from micro_mcp.policy.model import Principal

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES: Final = 1024 * 1024
"""Largest JWKS or introspection answer read; a larger one is refused as not what was asked."""


class Authority:
    """Authenticates bearer tokens; owns the HTTP client its issuer checks use (`run`)."""

    def __init__(
        self,
        static: Authenticator,
        oauth: OAuthSpec | None = None,
        claim_map: ClaimMap | None = None,
        client_secret: str | None = None,
        *,
        fetch_keys: Fetch | None = None,
        introspect: Post | None = None,
    ) -> None:
        """`fetch_keys` and `introspect` replace the HTTP calls to the issuer (for tests)."""
        self.static = static
        self.oauth = oauth
        self.claim_map = claim_map
        self._http: aiohttp.ClientSession | None = None
        self.keys: KeySet | None = None
        self.verifier: JwtVerifier | None = None
        self.introspector: Introspector | None = None
        self.metadata_url = metadata.metadata_url(oauth.resource) if oauth is not None else None
        self.metadata = metadata.document(oauth) if oauth is not None else None
        if oauth is not None and oauth.jwks_uri is not None:
            uri = oauth.jwks_uri
            self.keys = KeySet(
                fetch_keys or (lambda: self._get_json(uri)),
                refresh_interval=oauth.jwks_refresh_seconds,
                timeout=oauth.jwks_timeout,
            )
            self.verifier = JwtVerifier(
                self.keys,
                issuer=oauth.issuer,
                audience=oauth.resource,
                algorithms=oauth.algorithms,
                leeway=oauth.leeway,
                cache_size=oauth.token_cache_size,
            )
        if oauth is not None and oauth.introspection is not None:
            spec = oauth.introspection
            basic = base64.b64encode(f"{spec.client_id}:{client_secret or ''}".encode()).decode()
            self._introspection_auth = f"Basic {basic}"
            self._introspection_slots = anyio.CapacityLimiter(spec.max_concurrent)
            self.introspector = Introspector(
                introspect or self._introspect,
                issuer=oauth.issuer,
                audience=oauth.resource,
                cache_seconds=spec.cache_seconds,
                cache_size=spec.cache_size,
            )

    @property
    def open_principal(self) -> Principal | None:
        """Who every caller is when no credential of any kind is configured."""
        return self.static.open_principal if self.oauth is None else None

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Hold the HTTP client and refresh the issuer's keys every `jwksMaxAge` seconds (the
        first time at once), until cancelled. Ready at once: a slow issuer delays nothing."""
        async with aiohttp.ClientSession() as http:
            self._http = http
            task_status.started()
            try:
                while self.keys is not None and self.oauth is not None:
                    await self.keys.refresh()
                    await anyio.sleep(self.oauth.jwks_max_age)
                await anyio.sleep_forever()
            finally:
                self._http = None

    async def authenticate(self, token: str | None) -> Principal:
        """The principal `token` speaks for.

        Raises:
            Unauthenticated: no token was presented.
            InvalidToken: a token was presented and refused (the message says why).
            InsufficientScope: an OAuth token lacks the required scopes.
            UpstreamUnavailable: the introspection endpoint could not answer.
        """
        found = self.static.authenticate(token)
        if found is not None:
            return found
        if not token:
            raise Unauthenticated("a bearer token is required")
        if self.oauth is None or self.claim_map is None:
            raise InvalidToken("the bearer token is not valid")
        if len(token) > self.oauth.max_token_bytes:
            raise InvalidToken(f"the token is over {self.oauth.max_token_bytes} bytes")
        claims = await self._claims(token)
        principal = self.claim_map.principal(claims)
        missing = [s for s in self.oauth.required_scopes if s not in principal.scopes]
        if missing:
            raise InsufficientScope(
                f"the token lacks the scope {' '.join(missing)}", self.oauth.required_scopes
            )
        return principal

    def is_oauth(self, token: str) -> bool:
        """Whether an accepted `token` is an OAuth one (not a static token)."""
        return self.oauth is not None and self.static.authenticate(token) is None

    async def _claims(self, token: str) -> dict[str, Any]:
        if token.count(".") == 2 and self.verifier is not None:
            return await self.verifier.verify(token)
        if self.introspector is not None:
            return await self.introspector.introspect(token)
        raise InvalidToken("malformed token: not a JWT (header.payload.signature)")

    async def _get_json(self, url: str) -> Mapping[str, Any]:
        """GET a JSON object (the JWKS); `OSError` or `ValueError` when that fails."""
        if self._http is None:
            raise OSError("the gateway's HTTP client is not running yet")
        try:
            async with self._http.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise ValueError(f"{url} answered HTTP {response.status}")
                return _json_object(await _body(response), url)
        except aiohttp.ClientError as exc:
            raise OSError(f"{url}: {exc}") from exc

    async def _introspect(self, token: str) -> Mapping[str, Any]:
        spec = self.oauth.introspection if self.oauth is not None else None
        assert spec is not None, "introspect is used only when configured"
        form = {"token": token, "token_type_hint": "access_token"}
        headers = {"Authorization": self._introspection_auth, "Accept": "application/json"}
        unavailable = "the authorization server could not check the token; try again later"
        if self._http is None:
            raise UpstreamUnavailable(unavailable)
        try:
            with anyio.fail_after(spec.timeout):
                async with (
                    self._introspection_slots,
                    # No redirects: a 307 would resend the token to wherever it points.
                    self._http.post(
                        spec.endpoint, data=form, headers=headers, allow_redirects=False
                    ) as response,
                ):
                    if response.status != 200:
                        logger.warning("introspection answered HTTP %d", response.status)
                        raise UpstreamUnavailable(unavailable)
                    return _json_object(await _body(response), spec.endpoint)
        except (aiohttp.ClientError, OSError, ValueError, TimeoutError) as exc:
            logger.warning("introspection failed: %s", exc)
            raise UpstreamUnavailable(unavailable) from exc


async def _body(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, refused once it grows past `MAX_DOCUMENT_BYTES` (not read further)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{response.url} answered over {MAX_DOCUMENT_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(body: bytes, url: str) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{url} did not answer JSON") from exc
    if not isinstance(value, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return value  # pyright: ignore[reportUnknownVariableType] - JSON from the wire
