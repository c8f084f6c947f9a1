"""Assembling and running a gateway from a manifest and a config."""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Mapping
from pathlib import Path

import anyio
import uvicorn
from anyio.abc import TaskGroup

from micro_mcp.audit.sinks import AuditSink, JsonlSink
from micro_mcp.config.model import GatewayConfig, Manifest, PolicySpec, StaticToken
from micro_mcp.errors import ConfigError, McpError
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.fronts.guards import LOOPBACK_HOSTS
from micro_mcp.gateway.fronts.http import HttpFront
from micro_mcp.gateway.fronts.server import BoundedHeadProtocol, GatewayServer
from micro_mcp.gateway.fronts.stdio import DRAIN_TIMEOUT, serve_stdio
from micro_mcp.gateway.operator import admin
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.gateway.services.reloader import watch_manifest
from micro_mcp.identity.authority import Authority
from micro_mcp.identity.claims import ClaimMap, Grant
from micro_mcp.policy.engine import ANONYMOUS, Authenticator, token_digest
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.policy.rules import compile_rules
from micro_mcp.telemetry.recorder import Recorder

logger = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
"""Static tokens shorter than this are refused at start, as in the config itself."""
TOKEN_ENV = "MICRO_MCP_TOKEN"
"""Where a stdio client puts its token (static, or an OAuth access token): the gateway's own
environment, set by whoever spawns it."""


def build_authenticator(
    config: GatewayConfig, environ: Mapping[str, str] = os.environ
) -> Authenticator:
    """The static-token principals of a config, with their compiled policies; anonymous when
    neither a token nor OAuth is configured.

    Raises:
        ConfigError: a token's file or environment variable is missing or empty, or two
            principals share a token.
    """
    principals: dict[str, tuple[bytes, Principal]] = {}
    owners: dict[bytes, str] = {}
    for name, spec, policy, groups in [
        ("default", config, config.policy, frozenset[str]()),
        *((n, p, p.policy, frozenset(p.groups)) for n, p in config.principals.items()),
    ]:
        digest = _token_digest(name, spec, environ)
        if digest is None:
            continue
        if digest in owners:
            raise ConfigError(f"principals {owners[digest]!r} and {name!r} share a token")
        owners[digest] = name
        principals[name] = (digest, Principal(name, _policy(policy), groups=groups))
    configured = principals or config.oauth is not None
    open_principal = None if configured else Principal(ANONYMOUS, _policy(config.policy))
    return Authenticator(principals, open_principal)


def build_authority(config: GatewayConfig, environ: Mapping[str, str] = os.environ) -> Authority:
    """Everything that authenticates callers: static tokens and, when configured, OAuth.

    Raises:
        ConfigError: as `build_authenticator`, or the introspection secret is missing.
    """
    static = build_authenticator(config, environ)
    oauth = config.oauth
    if oauth is None:
        return Authority(static)
    policies = {name: _policy(spec.policy) for name, spec in config.principals.items()}
    policies["default"] = _policy(config.policy)
    grants: list[Grant] = []
    for grant in oauth.principals:
        policy = policies[grant.principal]
        if grant.subject is not None:
            grants.append(Grant("subject", grant.subject, policy))
        elif grant.group is not None:
            grants.append(Grant("group", grant.group, policy))
        elif grant.scope is not None:
            grants.append(Grant("scope", grant.scope, policy))
    claim_map = ClaimMap(
        oauth.claims.principal,
        oauth.claims.groups,
        oauth.claims.scopes,
        tuple(grants),
        policies[oauth.default_principal],
    )
    secret = None
    if oauth.introspection is not None:
        spec = oauth.introspection
        secret = _secret(
            "oauth.introspection client secret",
            file=spec.client_secret_file,
            env=spec.client_secret_env,
            environ=environ,
        )
    return Authority(static, oauth, claim_map, secret)


def _policy(spec: PolicySpec) -> Policy:
    return Policy(allow=spec.allow, deny=spec.deny)


def _token_digest(name: str, spec: StaticToken, environ: Mapping[str, str]) -> bytes | None:
    if spec.token is not None:
        return token_digest(spec.token)
    if spec.token_sha256 is not None:
        return bytes.fromhex(spec.token_sha256)
    if spec.token_file is None and spec.token_env is None:
        return None
    token = _secret(
        f"principal {name!r} token", file=spec.token_file, env=spec.token_env, environ=environ
    )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"principal {name!r}: the token is under {MIN_TOKEN_LENGTH} characters")
    return token_digest(token)


def _secret(what: str, *, file: str | None, env: str | None, environ: Mapping[str, str]) -> str:
    """A secret from a file or an environment variable, stripped of surrounding whitespace.

    Raises:
        ConfigError: the file cannot be read, the variable is unset, or the secret is empty.
    """
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {file}: {exc.strerror or exc}") from exc
        where = file
    else:
        assert env is not None
        value = environ.get(env, "").strip()
        where = f"${env}"
    if not value:
        raise ConfigError(f"{what}: {where} is unset or empty")
    return value


async def serve(
    manifest: Manifest,
    base_dir: Path,
    config: GatewayConfig,
    *,
    transport: str = "stdio",
    host: str = "127.0.0.1",
    port: int = 8765,
    environ: Mapping[str, str] = os.environ,
    audit: AuditSink | None = None,
    manifest_path: Path | None = None,
    metrics_port: int | None = None,
    telemetry: Recorder | None = None,
) -> None:
    """Start the services and serve clients until input ends or a signal arrives. With
    `manifest_path`, edits of that file (and SIGHUP) reload the services.

    Raises:
        ConfigError: the transport is unknown, HTTP on a non-loopback address without tokens,
            or a rule's condition does not compile.
    """
    if transport not in ("stdio", "http"):
        raise ConfigError(f"unknown transport {transport!r}; use stdio or http")
    authority = build_authority(config, environ)
    rules = compile_rules(config.rules)  # before anything starts: a bad rule stops it here
    if transport == "http" and authority.open_principal is not None and host not in LOOPBACK_HOSTS:
        raise ConfigError(
            f"refusing to serve {host} without authentication: set a token in the config "
            "(or bind to 127.0.0.1)"
        )
    clear = [n for n, spec in [("default", config), *config.principals.items()] if spec.token]
    if clear:
        logger.warning(
            "tokens in the config in clear text (%s): prefer tokenSha256 (micro-mcp token hash), "
            "tokenFile or tokenEnv",
            ", ".join(clear),
        )
    if authority.open_principal is not None:
        logger.warning(
            "NO AUTHENTICATION: no token configured, every client is %r with the default policy",
            ANONYMOUS,
        )
    listener = _listen(host, port) if transport == "http" else None
    recorder = telemetry if telemetry is not None else Recorder.from_spec(config.telemetry)
    sink = audit if audit is not None else JsonlSink(config.audit.path)
    mesh = Mesh(manifest, config, base_dir)
    try:
        async with (
            RateLimits.open(config.rate_limits, recorder) as rate_limits,
            anyio.create_task_group() as tg,
        ):
            dispatcher = Dispatcher(mesh, sink, recorder, rate_limits, rules)
            await tg.start(authority.run)
            await tg.start(mesh.run)
            scrape = metrics_port if metrics_port is not None else config.telemetry.metrics_port
            stdio_scrape = scrape if listener is None else None  # HTTP serves /metrics itself
            await tg.start(admin.observe, mesh, recorder, transport, stdio_scrape)
            if manifest_path is not None:
                tg.start_soon(watch_manifest, mesh, manifest_path, config.reload_interval)
            stop = anyio.Event()
            tg.start_soon(_stop_on_signal, stop, tg.cancel_scope)
            if listener is not None:
                await _serve_http(dispatcher, authority, config, listener, tg, stop)
            else:
                principal = await _stdio_principal(authority, environ.get(TOKEN_ENV))
                await serve_stdio(dispatcher, principal, config.max_message_bytes, stop)
            tg.cancel_scope.cancel()
    finally:
        sink.close()
        recorder.close()


async def _stdio_principal(authority: Authority, token: str | None) -> Principal | None:
    """Who the stdio client is, from the token it was started with (checked once, at start)."""
    try:
        return await authority.authenticate(token)
    except McpError as exc:
        logger.error("%s: %s: every request will be refused", TOKEN_ENV, exc.message)
        return None


async def _serve_http(
    dispatcher: Dispatcher,
    authority: Authority,
    config: GatewayConfig,
    listener: socket.socket,
    tg: TaskGroup,
    stop: anyio.Event,
) -> None:
    host, port = listener.getsockname()[:2]
    front = HttpFront(dispatcher, authority, config.http, host, port, tg)
    tg.start_soon(front.sweep_idle)
    server = GatewayServer(
        uvicorn.Config(
            front.app,
            # uvicorn's C parser (its pure-Python h11 costs ~0.2 ms a call more), heads bounded
            http=BoundedHeadProtocol.bounded(
                config.http.max_header_bytes, config.http.header_timeout
            ),
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=int(DRAIN_TIMEOUT),
        )
    )
    shown = f"[{host}]" if ":" in host else host
    logger.info("serving MCP on http://%s:%d/mcp", shown, port)
    tg.start_soon(_drain_when, stop, server, front)
    # The gateway owns SIGINT and SIGTERM, as on stdio: the first stops uvicorn taking
    # connections and lets the requests in flight finish, up to DRAIN_TIMEOUT; a second
    # cancels this serve() at once.
    await server.serve(sockets=[listener])
    front.sessions.close_all()


async def _drain_when(stop: anyio.Event, server: uvicorn.Server, front: HttpFront) -> None:
    await stop.wait()
    server.should_exit = True
    await front.drain()


def _listen(host: str, port: int) -> socket.socket:
    """Bind the HTTP port before anything starts, so a taken port is a clear start-up error.

    Raises:
        ConfigError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio switches Nagle off only on sockets that say they are TCP, and
    # with Nagle on, a reply written in two pieces waits for the client's delayed ACK (~40 ms).
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((host, port))
        listener.listen(1024)
    except OSError as exc:
        listener.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return listener


async def _stop_on_signal(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    """The first SIGTERM or SIGINT stops taking requests and lets those in flight finish; a
    second one stops at once."""
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            if stop.is_set():
                logger.warning("received %s again; stopping now", signal.Signals(signum).name)
                scope.cancel()
                return
            logger.info(
                "received %s; finishing the calls in flight, then stopping the services",
                signal.Signals(signum).name,
            )
            stop.set()
