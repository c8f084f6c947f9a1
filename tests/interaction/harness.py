"""A gateway in memory: the real mesh, dispatcher, policy and audit over in-process services.

No process and no socket: services are `upstream.memory` coroutines (a real SDK server through
`sdk_service`, or a few lines of raw JSON-RPC), and the client is a `ClientSession` whose
outbox the test reads. Each test builds what it needs with `gateway(...)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp.types
import orjson
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage
from pydantic import TypeAdapter

from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.serve import build_authenticator
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.memory import Inbox, Outbox, Serve, memory_connector

WIRE = TypeAdapter[mcp.types.JSONRPCMessage](mcp.types.JSONRPCMessage)


def sdk_service(server: MCPServer) -> Serve:
    """A real SDK server as an in-memory service."""
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]  # the SDK's own run_stdio_async uses it

    async def serve(inbox: Inbox, outbox: Outbox) -> None:
        reads, read = anyio.create_memory_object_stream[SessionMessage | Exception](16)
        write, writes = anyio.create_memory_object_stream[SessionMessage](16)

        async def pump_in() -> None:
            async with reads:
                async for raw in inbox:
                    await reads.send(SessionMessage(WIRE.validate_json(raw)))

        async def pump_out() -> None:
            async with writes:
                async for message in writes:
                    raw = WIRE.dump_json(message.message, by_alias=True, exclude_unset=True)
                    await outbox.send(raw)

        async with read, write, anyio.create_task_group() as tg:
            tg.start_soon(pump_in)
            tg.start_soon(pump_out)
            await lowlevel.run(read, write, lowlevel.create_initialization_options())
            tg.cancel_scope.cancel()

    return serve


def modern_meta(**extra: Any) -> dict[str, Any]:
    """The 2026-07-28 `_meta` envelope a modern client puts on every request."""
    return {
        versions.PROTOCOL_VERSION_KEY: versions.LATEST_MODERN,
        versions.CLIENT_CAPABILITIES_KEY: {},
        **extra,
    }


@dataclass
class Client:
    """One client of the in-memory gateway: sends requests, reads everything it is sent."""

    dispatcher: Dispatcher
    session: ClientSession
    received: MemoryObjectReceiveStream[Message]
    _next: int = 0
    notifications: list[Message] = field(default_factory=list[Message])
    """Everything the client received that was not the response it waited for."""
    answer: Callable[[Message], dict[str, Any]] | None = None
    """Answers requests the gateway sends the client (sampling, elicitation, roots) with a
    result; without it they stay unanswered, in `notifications`."""

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Message:
        """Send a request and return the response to it (result or error), keeping whatever
        else arrives before it in `notifications`."""
        self._next += 1
        request_id: RequestId = self._next
        message = jsonrpc.request(request_id, method, params)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self.dispatcher.handle_request, self.session, message)
            with anyio.fail_after(5):
                async for incoming in self.received:
                    if incoming.get("id") == request_id and "method" not in incoming:
                        return incoming
                    self.notifications.append(incoming)
                    if self.answer is not None and jsonrpc.is_request(incoming):
                        reply = jsonrpc.result(incoming["id"], self.answer(incoming))
                        self.session.resolve(reply)
        raise AssertionError("the client's stream ended before the response")

    async def initialize(self, capabilities: dict[str, Any] | None = None) -> Message:
        """The handshake, as a handshake-era client opens with."""
        return await self.request(
            "initialize",
            {
                "protocolVersion": versions.LATEST_HANDSHAKE,
                "capabilities": capabilities or {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        )


@dataclass
class Gateway:
    """The in-memory gateway of one test."""

    mesh: Mesh
    dispatcher: Dispatcher
    audit: MemoryAuditSink
    config: GatewayConfig
    streams: list[MemoryObjectSendStream[Message] | MemoryObjectReceiveStream[Message]] = field(
        default_factory=list[Any]
    )

    def client(self, token: str | None = None) -> Client:
        """A new connected client, authenticated by `token` (None: no token)."""
        principal = build_authenticator(self.config).authenticate(token)
        send, received = anyio.create_memory_object_stream[Message](256)
        self.streams += (send, received)

        async def deliver(message: Message, related: RequestId | None) -> None:
            # Through the wire's encoding, as a real front does: the test sees bytes' worth.
            await send.send(orjson.loads(jsonrpc.encode(message)))

        session = ClientSession(deliver, principal)
        self.mesh.clients.add(session)
        return Client(self.dispatcher, session, received)


@asynccontextmanager
async def gateway(
    services: Mapping[str, Serve],
    config: Mapping[str, Any] | None = None,
    entries: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncIterator[Gateway]:
    """A started gateway over in-memory `services`. `entries` gives a service's manifest entry
    (its `command` or `url` only says which kind of service it stands for); by default
    `{"command": "in-memory"}`."""
    manifest = Manifest.model_validate(
        {
            "mcpServers": {
                ns: dict((entries or {}).get(ns, {})) or {"command": "in-memory"} for ns in services
            }
        }
    )
    gateway_config = GatewayConfig.model_validate(config or {})
    mesh = Mesh(manifest, gateway_config, Path("."), memory_connector(services))
    audit = MemoryAuditSink()
    dispatcher = Dispatcher(mesh, audit, Recorder())
    async with anyio.create_task_group() as tg:
        await tg.start(mesh.run)
        with anyio.fail_after(5):
            await mesh.started.wait()
        built = Gateway(mesh, dispatcher, audit, gateway_config)
        try:
            yield built
        finally:
            for stream in built.streams:
                stream.close()
            tg.cancel_scope.cancel()
