"""Assembling and running a gateway from a manifest and a config."""

from __future__ import annotations

import functools
import logging
import os
import signal
import socket
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import uvicorn
from anyio.abc import TaskGroup
from pydantic import SecretStr

from micro_mcp import __version__
from micro_mcp.audit.keys import from_key
from micro_mcp.audit.setup import open_trail
from micro_mcp.audit.sinks import AuditSink, AuditTail
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.config.pinning import store_path
from micro_mcp.errors import ConfigError, McpError
from micro_mcp.gateway.access import Access, fingerprint
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.credentials import build_authority
from micro_mcp.gateway.fronts.guards import LOOPBACK_HOSTS
from micro_mcp.gateway.fronts.http import HttpFront
from micro_mcp.gateway.fronts.server import BoundedHeadProtocol, GatewayServer
from micro_mcp.gateway.fronts.stdio import DRAIN_TIMEOUT, serve_stdio
from micro_mcp.gateway.operator import admin
from micro_mcp.gateway.operator.console import Console
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.gateway.services.pinning import Pinning
from micro_mcp.gateway.services.reloader import Reload, follow_pins, reload_manifest, watch
from micro_mcp.identity.authority import Authority
from micro_mcp.policy.engine import ANONYMOUS
from micro_mcp.policy.model import Principal
from micro_mcp.policy.rules import compile_rules
from micro_mcp.registry.pin_store import PinStore, SqlitePinStore
from micro_mcp.registry.redis_pins import RedisPinStore
from micro_mcp.state.redis_store import RedisStore, open_store
from micro_mcp.state.replicas import Replicas
from micro_mcp.state.store import Store
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.tokens import CALLER, Caller

logger = logging.getLogger(__name__)

TOKEN_ENV = "MICRO_MCP_TOKEN"
"""Where a stdio client puts its token (static, or an OAuth access token): the gateway's own
environment, set by whoever spawns it."""


def _stdio_refusal(token: str | None, why: str) -> str:
    """Why a stdio client is refused: no token in the environment, or one that was refused."""
    if not token:
        return f"{TOKEN_ENV} is not set, and the gateway's config requires a token"
    return f"{TOKEN_ENV} is set but matches no token in the gateway's config ({why})"


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
    config_path: Path | None = None,
    metrics_port: int | None = None,
    telemetry: Recorder | None = None,
    profile: str | None = None,
    pins: PinStore | None = None,
    pins_path: Path | None = None,
) -> None:
    """Start the services and serve clients until input ends or a signal arrives. With
    `manifest_path`, edits of that file (and SIGHUP) reload the services; with `config_path`,
    edits of the config (and SIGHUP) reload who callers are and what they may do (`Access`).

    Raises:
        ConfigError: the transport is unknown, HTTP on a non-loopback address without tokens,
            a rule's condition does not compile, `profile` (stdio only) is not configured,
            the shared state store (`state.redis`) cannot be reached, or
            `state.sealingKeyEnv` names no usable key.
        PinStoreError: the pin store (a SQLite file, or Redis with `state.redis`) is unreadable
            or a record in it fails its checks.
    """
    if transport not in ("stdio", "http"):
        raise ConfigError(f"unknown transport {transport!r}; use stdio or http")
    if profile is not None and (transport != "stdio" or profile not in config.profiles):
        raise ConfigError(
            f"--profile {profile}: no such profile under 'profiles' in the config"
            if transport == "stdio"
            else "--profile is for stdio; over HTTP a profile is served at /mcp/p/NAME"
        )
    authority = build_authority(config, environ)
    rules = compile_rules(config.rules)  # before anything starts: a bad rule stops it here
    sealing_key = config.state.sealing_key(environ)
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
    if audit is not None:
        inner, audit_keys = audit, from_key(None)
    else:
        inner, audit_keys = open_trail(
            config.audit, config.telemetry, environ, recorder.on_audit_failure
        )
    sink = AuditTail(inner)
    pin_path = pins_path or store_path(config.pinning, config_path, manifest_path, environ)
    try:
        async with (
            RateLimits.open(config.rate_limits, recorder) as rate_limits,
            open_store(config.state) as store,
            _loaded_pins(pins, store, pin_path, config) as pinning,
            anyio.create_task_group() as tg,
        ):
            mesh = Mesh(manifest, config, base_dir, pinning=pinning, environ=environ)
            shared_pins = pinning.store if isinstance(pinning.store, RedisPinStore) else None
            dispatcher = Dispatcher(mesh, sink, recorder, rate_limits, rules, audit_keys)
            if store is not None or sealing_key is not None:
                await dispatcher.share(store, sealing_key)
            await tg.start(authority.run)
            await tg.start(mesh.run)
            scrape = metrics_port if metrics_port is not None else config.telemetry.metrics_port
            stdio_scrape = scrape if listener is None else None  # HTTP serves /metrics itself
            console = Console(dispatcher)
            observe = functools.partial(admin.observe, cache=dispatcher.cache)
            await tg.start(observe, mesh, recorder, transport, stdio_scrape, console)
            access = Access(
                config,
                authority,
                dispatcher,
                mesh.clients,
                environ=environ,
                open_allowed=transport != "http" or host in LOOPBACK_HOSTS,
            )
            if store is not None:
                mesh.replicas = Replicas(store, __version__, lambda: _running(access, mesh))
                await tg.start(mesh.replicas.run)
            watched: list[tuple[Path, Reload]] = []
            if manifest_path is not None:
                reload = _manifest_reload(mesh, manifest_path)
                # A rotated secret file (a Kubernetes Secret's, say) restarts its service.
                files = [manifest_path, *manifest.secret_files(base_dir)]
                watched += [(file, reload) for file in files]
            if config_path is not None:
                watched.append((config_path, _reloading(access)))
            if shared_pins is not None:  # another replica's approval raises the counter
                tg.start_soon(follow_pins, mesh, shared_pins.version, config.reload_interval)
            elif pins is None:  # `micro-mcp approve` writes the file; the gateway reads it again
                watched.append((pin_path, lambda _path: mesh.reload_pins()))
            if watched:
                tg.start_soon(watch, mesh, watched, config.reload_interval)
            stop = anyio.Event()
            tg.start_soon(_stop_on_signal, stop, tg.cancel_scope)
            if listener is not None:
                await _serve_http(dispatcher, access, config, listener, tg, stop, store)
            else:
                token = environ.get(TOKEN_ENV)
                principal, refusal = await _stdio_principal(authority, token)
                profiles = dispatcher.profiles
                if principal is not None and profiles and not profiles.admits(principal, profile):
                    refusal = f"--profile {profile} is not assigned to principal {principal.name!r}"
                    logger.error("%s: every request will be refused", refusal)
                    principal = None
                if principal is not None and token and authority.is_oauth(token):
                    # The stdio client's calls may be sent on with a token exchanged for it.
                    CALLER.set(Caller(principal.name, SecretStr(token)))
                await serve_stdio(
                    dispatcher, principal, config.max_message_bytes, stop, refusal, profile=profile
                )
                if not mesh.started.is_set():
                    logger.warning(
                        "stdin closed before the gateway was ready (services were still "
                        "starting): stopping without having served a request"
                    )
            tg.cancel_scope.cancel()
    finally:
        sink.close()
        recorder.close()


@asynccontextmanager
async def _loaded_pins(
    pins: PinStore | None, store: RedisStore | None, path: Path, config: GatewayConfig
) -> AsyncGenerator[Pinning]:
    """The approvals, read before anything starts (outside the task group, so a broken store
    stops the gateway with its own error, saying where and why): from `pins` if given, else
    shared in Redis with `state.redis`, else the SQLite file at `path`."""
    if pins is None:
        pins = RedisPinStore(store) if store is not None else SqlitePinStore(path)
    pinning = Pinning(pins, config.pinning.max_definition_bytes)
    await pinning.load()
    yield pinning


def _running(access: Access, mesh: Mesh) -> str:
    """The fingerprint of the config this replica runs now (reloads included)."""
    return fingerprint(access.config, {ns: s.spec for ns, s in mesh.services.items()})


async def _stdio_principal(
    authority: Authority, token: str | None
) -> tuple[Principal | None, str | None]:
    """Who the stdio client is, from the token it was started with (checked once, at start),
    or why it is refused (said in the log and in every refusal the client gets)."""
    try:
        return await authority.authenticate(token), None
    except McpError as exc:
        refusal = _stdio_refusal(token, exc.message)
        logger.error("%s: every request will be refused", refusal)
        return None, refusal


def _manifest_reload(mesh: Mesh, manifest_path: Path) -> Reload:
    """Reads the manifest again, whichever watched file changed (it or a secret it names)."""

    async def reload(_changed: Path) -> bool:
        return await reload_manifest(mesh, manifest_path)

    return reload


def _reloading(access: Access) -> Reload:
    async def reload(path: Path) -> bool:
        return access.reload(path)

    return reload


async def _serve_http(
    dispatcher: Dispatcher,
    access: Access,
    config: GatewayConfig,
    listener: socket.socket,
    tg: TaskGroup,
    stop: anyio.Event,
    store: Store | None,
) -> None:
    host, port = listener.getsockname()[:2]
    front = HttpFront(dispatcher, access.authority, config.http, host, port, tg, store)
    access.revoke_hooks.append(front.revoke)
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
