"""The gateway served to one client over its own stdin and stdout."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.client import ClientSession, line_outbox
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.fronts.front import Front, OnRequest
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.transport.framing import LineFramer, Oversized
from micro_mcp.transport.pipes import FdStream

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT: Final = 30.0
"""Seconds the gateway keeps answering requests already received after its stdin closes: a
client that writes its requests and closes its end still gets its replies."""


async def serve_stdio(
    dispatcher: Dispatcher,
    principal: Principal | None,
    max_message_bytes: int,
    stop: anyio.Event | None = None,
    refusal: str | None = None,
    read_fd: int = 0,
    write_fd: int = 1,
    *,
    profile: str | None = None,
) -> None:
    """Serve one client on the given descriptors until its input ends or `stop` is set;
    `refusal` says why a client without a principal is refused; with `profile`, the client
    sees that profile (`--profile`)."""
    with FdStream(read_fd, write_fd) as stream:
        client = ClientSession(
            line_outbox(stream.send), principal, refusal=refusal, profile=profile
        )
        await serve_client(dispatcher, client, stream.receive, max_message_bytes, stop)


async def serve_client(
    dispatcher: Dispatcher,
    client: ClientSession,
    receive: Callable[[], Awaitable[bytes]],
    max_message_bytes: int,
    stop: anyio.Event | None = None,
) -> None:
    """Read newline-delimited messages with `receive()` and answer them until input ends or
    `stop` is set; then let the requests already taken finish, for up to `DRAIN_TIMEOUT`."""
    front = Front(dispatcher)
    framer = LineFramer(max_message_bytes)
    with front.connected(client):
        async with anyio.create_task_group() as tg:

            async def run(request: Message) -> None:
                tg.start_soon(front.dispatcher.handle_request, client, request)

            async with anyio.create_task_group() as reading:
                if stop is not None:
                    reading.start_soon(_cancel_when, stop, reading.cancel_scope)
                while chunk := await receive():
                    for line in framer.feed(chunk):
                        await _take(front, client, line, run, max_message_bytes)
                reading.cancel_scope.cancel()  # input ended: the stop watcher has nothing to do
            # No more input. Open listens would never end on their own; the rest may finish.
            for listen_id in list(client.listens):
                scope = client.in_flight.get(listen_id)
                if scope is not None:
                    scope.cancel()
            tg.cancel_scope.deadline = anyio.current_time() + DRAIN_TIMEOUT


async def _cancel_when(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()


async def _take(
    front: Front,
    client: ClientSession,
    line: bytes | Oversized,
    run: OnRequest,
    limit: int,
) -> None:
    if isinstance(line, Oversized):
        logger.warning(
            "client sent a %d-byte message, over the %d-byte limit; dropped", line.size, limit
        )
        await _reply_error(
            client,
            line.request_id(),
            McpError(
                f"message of {line.size} bytes exceeds the gateway's limit of {limit}",
                code=codes.MESSAGE_TOO_LARGE,
            ),
        )
        return
    try:
        message = jsonrpc.decode(line)
    except McpError as exc:
        await _reply_error(client, jsonrpc.salvage_id(line), exc)
        return
    await front.take(client, message, run)


async def _reply_error(client: ClientSession, request_id: object, exc: McpError) -> None:
    rid = request_id if jsonrpc.is_request_id(request_id) else None
    await client.send(jsonrpc.error(rid, exc.to_error()))
