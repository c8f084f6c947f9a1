"""Assembling and running a gateway from a manifest and a config."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path

import anyio

from micro_mcp.audit.sinks import AuditSink, JsonlSink
from micro_mcp.config.model import GatewayConfig, Manifest, PolicySpec
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.dispatcher import Dispatcher
from micro_mcp.gateway.mesh import Mesh
from micro_mcp.gateway.stdio import serve_stdio
from micro_mcp.policy.engine import ANONYMOUS, Authenticator
from micro_mcp.policy.model import Policy, Principal

logger = logging.getLogger(__name__)

TOKEN_ENV = "MICRO_MCP_TOKEN"
"""Where a stdio client puts its token: the gateway's own environment, set by whoever spawns it."""


def build_authenticator(config: GatewayConfig) -> Authenticator:
    """The principals of a config, with their compiled policies."""
    principals: dict[str, tuple[str, Principal]] = {}
    if config.token is not None:
        principals["default"] = (config.token, Principal("default", _policy(config.policy)))
    for name, spec in config.principals.items():
        principals[name] = (spec.token, Principal(name, _policy(spec.policy)))
    open_principal = None if principals else Principal(ANONYMOUS, _policy(config.policy))
    return Authenticator(principals, open_principal)


def _policy(spec: PolicySpec) -> Policy:
    return Policy(allow=spec.allow, deny=spec.deny)


async def serve(
    manifest: Manifest,
    base_dir: Path,
    config: GatewayConfig,
    *,
    transport: str = "stdio",
    environ: Mapping[str, str] = os.environ,
    audit: AuditSink | None = None,
) -> None:
    """Start the services and serve clients until input ends or a signal arrives.

    Raises:
        ConfigError: the transport is not one this version serves.
    """
    if transport != "stdio":
        raise ConfigError(f"transport {transport!r} is not available in this version; use stdio")
    authenticator = build_authenticator(config)
    if authenticator.open_principal is not None:
        logger.warning("no token configured: every client is %r with the default policy", ANONYMOUS)
    principal = authenticator.authenticate(environ.get(TOKEN_ENV))
    if principal is None:
        logger.error("%s is missing or wrong: every request will be refused", TOKEN_ENV)
    sink = audit if audit is not None else JsonlSink(config.audit.path)
    mesh = Mesh(manifest, config, base_dir)
    dispatcher = Dispatcher(mesh, sink)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
            await tg.start(mesh.run)
            await serve_stdio(dispatcher, principal, config.max_message_bytes)
            tg.cancel_scope.cancel()
    finally:
        sink.close()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async for signum in signals:
            logger.info("received %s; stopping the services", signal.Signals(signum).name)
            scope.cancel()
            return
