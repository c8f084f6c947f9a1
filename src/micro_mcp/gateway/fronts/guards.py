"""The checks in front of the HTTP front, one small ASGI wrapper each, composed in `guarded`.

Each guard answers with its own status or passes the request on unchanged, in a fixed order:
Host (421), Origin (403), bearer token (401, MCP paths only: the operator's paths have a token
of their own), body size (413, when the application reads the body). Host and Origin run on
every path, the health routes included, so a page that rebinds a name to a loopback gateway
learns nothing from any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, MutableMapping
from typing import Any, Final

from micro_mcp import codes
from micro_mcp.gateway.fronts.asgi import App, Receive, Scope, Send, fail
from micro_mcp.policy.engine import Authenticator
from micro_mcp.policy.model import Principal

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})
PRINCIPAL: Final = "micro_mcp.principal"
"""The scope key under which `TokenGuard` leaves the authenticated principal."""


def guarded(
    app: App,
    *,
    hosts: frozenset[str] | None,
    origins: Collection[str],
    authenticator: Authenticator,
    token_paths: Collection[str],
    max_body_bytes: int,
) -> App:
    """`app` behind every guard; the list is outermost first, which is the order they check."""
    guards: list[Callable[[App], App]] = [
        lambda inner: HostGuard(inner, hosts),
        lambda inner: OriginGuard(inner, origins),
        lambda inner: TokenGuard(inner, authenticator, token_paths),
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
    """401 with `WWW-Authenticate` on `paths` unless the bearer token names a principal, which
    is then left in the scope under `PRINCIPAL`."""

    def __init__(self, app: App, authenticator: Authenticator, paths: Collection[str]) -> None:
        self.app = app
        self.authenticator = authenticator
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["path"].rstrip("/") or "/") in self.paths:
            principal = self.authenticator.authenticate(_bearer(header(scope, b"authorization")))
            if principal is None:
                challenge = [(b"www-authenticate", b'Bearer realm="micro-mcp"')]
                message = "Unauthorized: a valid bearer token is required"
                await fail(send, 401, codes.UNAUTHENTICATED, message, challenge)
                return
            scope[PRINCIPAL] = principal
        await self.app(scope, receive, send)


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
