"""One way to reach any service: `connect(spec)` picks the transport its manifest entry names.

A command means a child process over stdio; a URL means Streamable HTTP, or the 2024-11-05
HTTP+SSE transport when the entry says `"type": "sse"` or the URL does not speak Streamable
HTTP. Whatever the transport, the caller gets an `UpstreamSession` once it is ready.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

import anyio
from anyio.abc import TaskStatus

from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.references import ServiceSecrets
from micro_mcp.errors import McpError, leaf
from micro_mcp.upstream.http import run_http_service
from micro_mcp.upstream.legacy_sse import run_sse_service
from micro_mcp.upstream.session import SessionHandler, UpstreamSession
from micro_mcp.upstream.stdio import run_stdio_service
from micro_mcp.upstream.tokens import Tokens

logger = logging.getLogger(__name__)

OnSession = Callable[[UpstreamSession], Awaitable[None]]
"""Runs once the session is open and before the service counts as started (to load its
catalog)."""


class Connector(Protocol):
    """How the gateway reaches a service: `connect` below, or an in-memory one for tests."""

    async def __call__(
        self,
        namespace: str,
        spec: ServiceSpec,
        handler: SessionHandler,
        on_session: OnSession,
        *,
        base_dir: Path,
        max_message_bytes: int,
        secrets: ServiceSecrets,
        tokens: Tokens | None = None,
        task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Run one session to the service until it ends or is cancelled; `secrets` are its
        `env` and `headers` with their references resolved, what it gets in place of the
        manifest's text; `tokens`, its OAuth tokens when its entry has `auth`."""
        ...


async def connect(
    namespace: str,
    spec: ServiceSpec,
    handler: SessionHandler,
    on_session: OnSession,
    *,
    base_dir: Path,
    max_message_bytes: int,
    secrets: ServiceSecrets,
    tokens: Tokens | None = None,
    task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Run one session to a service over its transport until it ends or is cancelled, with
    `secrets` (its `env` or `headers` resolved) in place of the manifest's values and, for an
    entry with `auth`, `tokens` (the service's, shared by its sessions).

    Raises:
        McpError: the service could not be reached or started, or failed its handshake.
    """
    if spec.url is None:
        await run_stdio_service(
            namespace,
            spec,
            base_dir,
            handler,
            on_session,
            secrets=secrets,
            max_message_bytes=max_message_bytes,
            task_status=task_status,
        )
        return
    by_url = (namespace, spec, handler, on_session)
    headers = secrets.header_values()
    over_sse = functools.partial(
        run_sse_service,
        *by_url,
        headers=headers,
        max_message_bytes=max_message_bytes,
        task_status=task_status,
    )
    if spec.auth is not None:
        if spec.type == "sse" or tokens is None:
            raise McpError(f"service {namespace!r}: 'auth' needs Streamable HTTP and its tokens")
        await run_http_service(
            *by_url,
            headers=headers,
            tokens=tokens,
            max_message_bytes=max_message_bytes,
            task_status=task_status,
        )
        return
    if spec.type == "sse":
        await over_sse()
        return
    try:
        await run_http_service(
            *by_url, headers=headers, max_message_bytes=max_message_bytes, task_status=task_status
        )
    except* McpError as group:
        if spec.type is not None:
            raise
        # No Streamable HTTP at this URL: try the 2024-11-05 HTTP+SSE transport once.
        logger.info("service %s: %s; trying HTTP+SSE", namespace, leaf(group))
        await over_sse()
