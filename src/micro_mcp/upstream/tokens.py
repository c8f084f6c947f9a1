"""OAuth access tokens for a service by URL (its `auth`): exchanged per user, or the gateway's own.

`token-exchange` (RFC 8693): a request made for a caller who authenticated with an OAuth token
carries a token the authorization server issued for that user and the service's audience, in
exchange for the caller's; the caller's own token never leaves the gateway. `client-credentials`
(RFC 6749 4.4): requests carry the gateway's own token. The gateway's own requests (handshake,
listings, a stream it keeps open) carry its own token for either type.

Who a request is made for travels in a context variable, `CALLER`: the HTTP front's token guard
sets it for the request it lets in, the relay for every call it forwards, and a task that works
for the gateway itself (a connection's reader) clears it, so what such a task starts is never
done in a caller's name. Tokens are kept until `EXPIRY_MARGIN` before they expire, one per
caller, at most `cacheSize`; one request at a time fetches a missing token. The token requests
are two form POSTs with aiohttp (which the gateway already uses for services); the tokens
themselves are opaque here: the service checks them, the gateway only reads `expires_in`.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

import aiohttp
import anyio
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from micro_mcp.config.service_auth import ServiceAuthSpec
from micro_mcp.errors import UpstreamCredentials

EXPIRY_MARGIN: Final = 30.0
"""Seconds before its expiry a token is fetched anew (at most half its lifetime)."""
DEFAULT_LIFETIME: Final = 300.0
"""Seconds a token is kept when the authorization server does not say (`expires_in`)."""
MAX_ANSWER_BYTES: Final = 64 * 1024
"""The largest token endpoint answer read."""
TOKEN_EXCHANGE: Final = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN: Final = "urn:ietf:params:oauth:token-type:access_token"


@dataclass(frozen=True, slots=True)
class Caller:
    """Whom a request to a service is made for: the principal's name and, when it
    authenticated with an OAuth token, that token (what a token exchange trades in)."""

    subject: str
    token: SecretStr | None = None


CALLER: ContextVar[Caller | None] = ContextVar("micro_mcp_caller", default=None)
"""The caller of the request being handled; None: the gateway itself."""


@contextmanager
def on_behalf_of(subject: str) -> Generator[None]:
    """Within the block, requests are made for `subject`, keeping the OAuth token the front
    recorded when it is that same subject's."""
    current = CALLER.get()
    if current is not None and current.subject == subject:
        yield
        return
    reset = CALLER.set(Caller(subject))
    try:
        yield
    finally:
        CALLER.reset(reset)


def as_gateway() -> None:
    """From here on, this task (and what it starts) works for the gateway, not a caller."""
    CALLER.set(None)


class _Answer(BaseModel):
    """A token endpoint's successful answer (RFC 6749 5.1, RFC 8693 2.2.1)."""

    model_config = ConfigDict(extra="ignore")
    access_token: str
    token_type: str
    expires_in: float | None = None


@dataclass(slots=True)
class _Held:
    token: SecretStr
    good_until: float


class Tokens:
    """One service's tokens: the gateway's own, and one per caller when exchanged; kept for
    the service's life, shared by all its sessions (one per client, with `per-client`)."""

    def __init__(
        self,
        namespace: str,
        spec: ServiceAuthSpec,
        client_secret: SecretStr,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self.spec = spec
        self._secret = client_secret
        self._clock = clock
        self._held: OrderedDict[str, _Held] = OrderedDict()
        self._locks: dict[str, anyio.Lock] = {}
        self.fetches = 0
        """Token requests made so far (for tests and the curious)."""

    async def authorization(self, caller: Caller | None) -> str:
        """The `Authorization` header for a request made for `caller` (None: the gateway).

        Raises:
            UpstreamCredentials: no token could be had (the message says why).
        """
        if caller is None or self.spec.type == "client-credentials":
            token = await self._cached("", self._client_credentials)
        elif caller.token is None:
            raise UpstreamCredentials(
                f"service {self.namespace!r} is called as the user (token exchange), and "
                f"{caller.subject!r} did not authenticate with an OAuth token"
            )
        else:
            subject_token = caller.token
            token = await self._cached(
                "user:" + caller.subject, lambda: self._exchange(subject_token)
            )
        return "Bearer " + token.get_secret_value()

    async def _cached(
        self, key: str, fetch: Callable[[], Awaitable[tuple[SecretStr, float]]]
    ) -> SecretStr:
        held = self._fresh(key)
        if held is not None:
            return held
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:  # one fetch per key at a time; the others wait and take its token
            held = self._fresh(key)
            if held is not None:
                return held
            token, lifetime = await fetch()
            margin = min(EXPIRY_MARGIN, lifetime / 2)
            self._held[key] = _Held(token, self._clock() + lifetime - margin)
            self._held.move_to_end(key)
            while len(self._held) > self.spec.cache_size:
                oldest, _ = self._held.popitem(last=False)
                self._locks.pop(oldest, None)
            return token

    def _fresh(self, key: str) -> SecretStr | None:
        held = self._held.get(key)
        if held is None or held.good_until <= self._clock():
            return None
        self._held.move_to_end(key)
        return held.token

    async def _client_credentials(self) -> tuple[SecretStr, float]:
        return await self._request("client credentials", {"grant_type": "client_credentials"})

    async def _exchange(self, subject_token: SecretStr) -> tuple[SecretStr, float]:
        form = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token.get_secret_value(),
            "subject_token_type": ACCESS_TOKEN,
            "requested_token_type": ACCESS_TOKEN,
        }
        return await self._request("token exchange", form)

    async def _request(self, grant: str, form: dict[str, str]) -> tuple[SecretStr, float]:
        spec, where = self.spec, f"service {self.namespace!r}"
        asked = {"audience": spec.audience, "resource": spec.resource, "scope": spec.scope}
        form.update({key: value for key, value in asked.items() if value is not None})
        # RFC 6749 2.3.1: client_secret_basic, id and secret form-encoded first.
        basic = aiohttp.encode_basic_auth(
            quote(spec.client_id, safe=""), quote(self._secret.get_secret_value(), safe="")
        )
        self.fetches += 1
        try:
            with anyio.fail_after(spec.timeout):
                async with (
                    _client(spec) as http,
                    http.post(
                        spec.token_endpoint,
                        data=form,
                        headers={"accept": "application/json", "authorization": basic},
                        allow_redirects=False,
                    ) as response,
                ):
                    status = response.status
                    body = await response.content.read(MAX_ANSWER_BYTES)
        except TimeoutError:
            raise UpstreamCredentials(
                f"{where}: the authorization server did not answer the {grant} request "
                f"within {spec.timeout:g} s"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamCredentials(
                f"{where}: the authorization server is unreachable ({type(exc).__name__})"
            ) from None
        if status != 200:
            error = _oauth_error(body)
            raise UpstreamCredentials(
                f"{where}: the authorization server refused the {grant} "
                f"(HTTP {status}{': ' + error if error else ''})",
                data={"error": error} if error else None,
            )
        try:
            answer = _Answer.model_validate_json(body)
        except ValidationError:
            raise UpstreamCredentials(
                f"{where}: the authorization server's {grant} answer is not a token"
            ) from None
        if answer.token_type.lower() != "bearer":
            raise UpstreamCredentials(f"{where}: the {grant} gave a {answer.token_type!r} token")
        lifetime = answer.expires_in if answer.expires_in and answer.expires_in > 0 else None
        return SecretStr(answer.access_token), lifetime or DEFAULT_LIFETIME


def _oauth_error(body: bytes) -> str | None:
    """The `error` code of an OAuth error answer, if it is a plain one (RFC 6749 5.2)."""
    try:
        found = _Error.model_validate_json(body).error
    except ValidationError:
        return None
    return found if found.isascii() and found.isprintable() and len(found) <= 64 else None


class _Error(BaseModel):
    model_config = ConfigDict(extra="ignore")
    error: str


def _client(spec: ServiceAuthSpec) -> aiohttp.ClientSession:
    """An HTTP client for one token request: of its own, so the service's headers never go to
    the authorization server; one a request, since a token is fetched once per lifetime."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=spec.timeout))
