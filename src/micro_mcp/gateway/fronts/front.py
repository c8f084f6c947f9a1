"""What every front does with a client, whatever carries its bytes: register it, route what it
sends (requests, notifications, replies to what the gateway asked it), release it on close.

The fronts keep only their framing and transport rules: stdio reads lines, Streamable HTTP and
the 2024-11-05 transport read POST bodies and answer by HTTP's rules.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message

logger = logging.getLogger(__name__)

OnRequest = Callable[[Message], Awaitable[None]]
"""How a front runs a request: in a task of its own (stdio, the 2024-11-05 transport), or with
a response stream to follow (Streamable HTTP)."""


class Front:
    """The client side of the gateway, as every transport sees it."""

    __slots__ = ("dispatcher",)

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def open(self, client: ClientSession) -> None:
        """A client connected: it hears list changes and what its calls cause from now on."""
        self.dispatcher.mesh.clients.add(client)

    def close(self, client: ClientSession) -> None:
        """A client left: what waited on it wakes, what was kept for it is freed."""
        self.dispatcher.mesh.clients.release(client)

    @contextmanager
    def connected(self, client: ClientSession) -> Generator[ClientSession]:
        """Hold `client` open for the block (a stdio connection, one 2026-07-28 request)."""
        self.open(client)
        try:
            yield client
        finally:
            self.close(client)

    async def take(self, client: ClientSession, message: Message, on_request: OnRequest) -> None:
        """Route one decoded message from `client`: a request to `on_request`, a notification
        to the dispatcher, a reply to the request of the gateway's it answers."""
        if jsonrpc.is_request(message):
            await on_request(message)
        elif jsonrpc.is_notification(message):
            await self.dispatcher.handle_notification(client, message)
        elif not client.resolve(message):
            logger.debug("client answered unknown request %r", message.get("id"))
