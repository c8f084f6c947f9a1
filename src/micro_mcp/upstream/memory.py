"""A service in the gateway's own process, over two connected memory streams.

This is the seam that lets the layers above I/O (dispatch, routing, the catalog, subscriptions,
policy, audit) be tested in milliseconds without processes or sockets, as python-sdk's direct
dispatcher and httpx's mock transport do. A service here is any coroutine that reads the
gateway's messages from one stream and writes its own to the other; `memory_connector` puts
such services where `connect` would start processes. Messages cross as encoded bytes, as on a
pipe, so neither side keeps a reference into the other's dicts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.references import ServiceSecrets
from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.upstream.connect import Connector, OnSession
from micro_mcp.upstream.session import SessionHandler, UpstreamSession
from micro_mcp.upstream.tokens import Tokens

BUFFER: Final = 64
"""Messages each direction holds before the sender waits: bounded, so backpressure shows."""

Inbox = MemoryObjectReceiveStream[bytes]
Outbox = MemoryObjectSendStream[bytes]
Serve = Callable[[Inbox, Outbox], Awaitable[None]]
"""An in-process service: reads the gateway's messages (one encoded JSON-RPC message each)
from the inbox and writes its own to the outbox; returning ends its connection."""


def memory_connector(services: Mapping[str, Serve]) -> Connector:
    """A `connect` that reaches each namespace's service in memory; a namespace without one
    fails to start, as a missing command would."""

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
        serve = services.get(namespace)
        if serve is None:
            raise McpError(f"no in-memory service for {namespace!r}")
        await run_memory_service(
            namespace, spec, serve, handler, on_session, task_status=task_status
        )

    return connect


async def run_memory_service(
    namespace: str,
    spec: ServiceSpec,
    serve: Serve,
    handler: SessionHandler,
    on_session: OnSession,
    *,
    task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Connect to `serve`, hand its session to `on_session` once ready, run until it returns.

    Raises:
        McpError: the service failed its handshake or did not finish starting in time.
    """
    to_service, inbox = anyio.create_memory_object_stream[bytes](BUFFER)
    outbox, from_service = anyio.create_memory_object_stream[bytes](BUFFER)

    async def send(message: Message) -> None:
        try:
            await to_service.send(jsonrpc.encode(message))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            session.close("its inbox is closed")
            raise McpError(f"service {namespace!r} is unavailable: it stopped reading") from exc

    session = UpstreamSession(namespace, send, handler)

    async def run_service() -> None:
        async with inbox, outbox:
            await serve(inbox, outbox)

    async def read() -> None:
        async with from_service:
            async for raw in from_service:
                await session.receive(jsonrpc.decode(raw))
        session.close("it returned")

    try:
        async with anyio.create_task_group() as tg, to_service:
            tg.start_soon(run_service)
            reading = anyio.Event()

            async def read_then_mark() -> None:
                try:
                    await read()
                finally:
                    reading.set()

            tg.start_soon(read_then_mark)
            with anyio.fail_after(spec.startup_timeout):
                await session.handshake(spec.protocol, spec.startup_timeout)
                await on_session(session)
            task_status.started(session)
            await reading.wait()
            tg.cancel_scope.cancel()
    except TimeoutError:
        raise McpError(f"service {namespace!r} did not finish starting in time") from None
    finally:
        session.close("the gateway stopped it")
