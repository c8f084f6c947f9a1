"""The checks in front of the HTTP front, one small ASGI wrapper each, composed in `guarded`.

Each guard answers with its own status or passes the request on unchanged, in a fixed order:
Host (421), Origin (403), bearer token (401/403/400, MCP paths only: the operator's paths have
a token of their own), body size (413, when the application reads the body). Host and Origin run on
every path, the health routes included, so a page that rebinds a name to a loopback gateway
learns nothing from any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, MutableMapping
from typing import Any, Final
from urllib.parse import parse_qs

from pydantic import SecretStr

from micro_mcp import codes
from micro_mcp.errors import InsufficientScope, InvalidToken, Unauthenticated, UpstreamUnavailable
from micro_mcp.gateway.fronts.asgi import App, Receive, Scope, Send, fail
from micro_mcp.identity import metadata
from micro_mcp.identity.authority import Authority
from micro_mcp.policy.model import Principal
from micro_mcp.upstream.tokens import CALLER, Caller

Refused = Callable[[int, int, str, str | None], None]
"""Told of a refusal: HTTP status, JSON-RPC code, why (never the token), the client's address."""
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
PRINCIPAL: Final = "micro_mcp.principal"
"""The scope key under which `TokenGuard` leaves the authenticated principal."""


def guarded(
    app: App,
    *,
    hosts: frozenset[str] | None,
    origins: Collection[str],
    authority: Authority,
    token_paths: Collection[str],
    max_body_bytes: int,
    refused: Refused | None = None,
    token_prefixes: tuple[str, ...] = (),
) -> App:
    """`app` behind every guard; the list is outermost first, which is the order they check.
    `refused` is told of each request the token guard turns away (the audit trail)."""
    guards: list[Callable[[App], App]] = [
        lambda inner: HostGuard(inner, hosts),
        lambda inner: OriginGuard(inner, origins),
        lambda inner: TokenGuard(inner, authority, token_paths, refused, token_prefixes),
        lambda inner: BodyLimit(inner, max_body_bytes),
    ]
    for guard in reversed(guards):
        app = guard(app)
    return app


def allowed_hosts(host: str, port: int, extra: Collection[str]) -> frozenset[str] | None:
    """The `Host` values a gateway bound to `host:port` accepts; None accepts any.

    On loopback, loopback names and the bound address (with or without the port), plus `extra`;
    on a public address only `extra` when given, else any Host (the operator names the hosts).
    """
    if host not in LOOPBACK_HOSTS and not extra:
        return None
    names = {*LOOPBACK_HOSTS, host}
    return frozenset({*names, *(f"{name}:{port}" for name in names), *extra})


def principal_of(scope: Scope) -> Principal:
    """The principal `TokenGuard` authenticated for this request."""
    principal: Principal = scope[PRINCIPAL]
    return principal


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case), if the request has it."""
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


class HostGuard:
    """421 for a `Host` not in `hosts`: stops DNS rebinding against a loopback gateway."""

    def __init__(self, app: App, hosts: frozenset[str] | None) -> None:
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hosts is not None and header(scope, b"host") not in self.hosts:
            await fail(send, 421, codes.INVALID_REQUEST, "Misdirected request: Host not allowed")
            return
        await self.app(scope, receive, send)


class OriginGuard:
    """403 for a browser `Origin` other than loopback ones (any port) and `origins`."""

    def __init__(self, app: App, origins: Collection[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = header(scope, b"origin")
        if origin is not None and not self._allowed(origin):
            await fail(send, 403, codes.INVALID_REQUEST, "Forbidden: Origin not allowed")
            return
        await self.app(scope, receive, send)

    def _allowed(self, origin: str) -> bool:
        if origin in self.origins:
            return True
        host = origin.partition("://")[2].rsplit(":", 1)[0] if "://" in origin else ""
        return host in LOOPBACK_HOSTS


class TokenGuard:
    """On `paths`, the bearer token must name a principal, which is then left in the scope under
    `PRINCIPAL`. Otherwise: 401 with a `WWW-Authenticate` challenge pointing to the RFC 9728
    metadata (with `error="invalid_token"` and the reason when a token was presented), 403
    `insufficient_scope` naming the scopes to ask for, 400 for a token in the query string, 503
    when the authorization server could not check it."""

    def __init__(
        self,
        app: App,
        authority: Authority,
        paths: Collection[str],
        refused: Refused | None = None,
        prefixes: tuple[str, ...] = (),
    ) -> None:
        """`prefixes`: paths under these need the token too (a profile's `/mcp/p/NAME`)."""
        self.app = app
        self.authority = authority
        self.paths = frozenset(paths)
        self.refused = refused
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"].rstrip("/") or "/"
        if path not in self.paths and not (self.prefixes and path.startswith(self.prefixes)):
            await self.app(scope, receive, send)
            return
        where = self.authority.metadata_url
        if b"access_token" in parse_qs(scope.get("query_string", b"")):
            refusal = metadata.challenge(where, error="invalid_request")
            message = "Bearer tokens in the URL query are refused: send an Authorization header"
            self._audit(scope, 400, codes.INVALID_REQUEST, message)
            await fail(send, 400, codes.INVALID_REQUEST, message, [(b"www-authenticate", refusal)])
            return
        token = _bearer(header(scope, b"authorization"))
        try:
            principal = await self.authority.authenticate(token)
        except InsufficientScope as exc:
            description = f"Forbidden: {exc.message}"
            header_value = metadata.challenge(
                where, error="insufficient_scope", description=description, scopes=exc.scopes
            )
            challenge = [(b"www-authenticate", header_value)]
            self._audit(scope, 403, exc.code, description)
            await fail(send, 403, exc.code, description, challenge)
            return
        except InvalidToken as exc:
            description = f"Unauthorized: {exc.message}"
            header_value = metadata.challenge(where, error="invalid_token", description=description)
            self._audit(scope, 401, exc.code, description)
            await fail(send, 401, exc.code, description, [(b"www-authenticate", header_value)])
            return
        except Unauthenticated:
            message = "Unauthorized: a valid bearer token is required"
            challenge = [(b"www-authenticate", metadata.challenge(where))]
            self._audit(scope, 401, codes.UNAUTHENTICATED, message)
            await fail(send, 401, codes.UNAUTHENTICATED, message, challenge)
            return
        except UpstreamUnavailable as exc:
            await fail(send, 503, exc.code, exc.message, [(b"retry-after", b"5")])
            return
        scope[PRINCIPAL] = principal
        if token is not None and self.authority.is_oauth(token):
            # What the request sets off carries the token, for a service's token exchange.
            CALLER.set(Caller(principal.name, SecretStr(token)))
        await self.app(scope, receive, send)

    def _audit(self, scope: Scope, status: int, code: int, reason: str) -> None:
        if self.refused is not None:
            client = scope.get("client")
            self.refused(status, code, reason, f"{client[0]}:{client[1]}" if client else None)


def _bearer(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


class _BodyTooLarge(Exception):
    """Raised out of `receive` past the limit; `BodyLimit` turns it into 413 (never escapes)."""


class BodyLimit:
    """413 once the application reads a body over `limit` bytes (declared or sent), which is
    then not read further. The check runs when the application reads, so its own earlier checks
    (method, content type, session) answer first."""

    def __init__(self, app: App, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = header(scope, b"content-length")
        refused = declared is not None and declared.isdigit() and int(declared) > self.limit
        size = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal size
            if refused:
                raise _BodyTooLarge
            event = await receive()
            size += len(event.get("body", b""))
            if size > self.limit:
                raise _BodyTooLarge
            return event

        try:
            await self.app(scope, limited, send)
        except _BodyTooLarge:
            await fail(send, 413, codes.MESSAGE_TOO_LARGE, f"Body over {self.limit} bytes")
