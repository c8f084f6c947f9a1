"""A gateway in memory: the real mesh, dispatcher, policy and audit over in-process services.

No process and no socket: services are `upstream.memory` coroutines (a real SDK server through
`sdk_service`, or a few lines of raw JSON-RPC), and the client is a `ClientSession` whose
outbox the test reads. Each test builds what it needs with `gateway(...)`; wrapping a service
in a `Tap` shows what it received and lets the test speak as it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import mcp.types
import orjson
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.server import MCPServer
from mcp.shared.message import SessionMessage
from pydantic import TypeAdapter

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.credentials import build_authenticator
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.rules import compile_rules
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.memory import BUFFER, Inbox, Outbox, Serve, memory_connector

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


Delivery = tuple[Message, "RequestId | None"]
"""One message a client was sent, with the client request it belongs to (None: the session)."""


@dataclass
class Client:
    """One client of the in-memory gateway: sends requests and notifications, reads everything
    it is sent. Requests run as tasks of the gateway, so several may be in flight at once."""

    dispatcher: Dispatcher
    session: ClientSession
    received: MemoryObjectReceiveStream[Delivery]
    tasks: TaskGroup
    _next: int = 0
    notifications: list[Message] = field(default_factory=list[Message])
    """Notifications and requests received and not yet taken by `notification`."""
    deliveries: list[Delivery] = field(default_factory=list[Delivery])
    """Everything received so far, in order, with the request each belongs to."""
    _responses: dict[RequestId, Message] = field(default_factory=dict[RequestId, Message])
    answer: Callable[[Message], dict[str, Any]] | None = None
    """Answers requests the gateway sends the client (sampling, elicitation, roots) with a
    result; without it they stay unanswered, in `notifications`."""

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        request_id: RequestId | None = None,
    ) -> RequestId:
        """Start a request (by default with the client's next integer id) and return its id."""
        if request_id is None:
            self._next += 1
            request_id = self._next
        message = jsonrpc.request(request_id, method, params)
        self.tasks.start_soon(self.dispatcher.handle_request, self.session, message)
        return request_id

    async def response(self, request_id: RequestId) -> Message:
        """The response to request `request_id` (result or error), waiting up to 5 s for it."""
        with anyio.fail_after(5):
            while request_id not in self._responses:
                await self._pull()
        return self._responses.pop(request_id)

    async def request(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        request_id: RequestId | None = None,
    ) -> Message:
        """Send a request and return the response to it (result or error), keeping whatever
        else arrives before it in `notifications`."""
        return await self.response(self.send(method, params, request_id))

    async def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send the gateway a notification (`notifications/cancelled`, say)."""
        await self.dispatcher.handle_notification(
            self.session, jsonrpc.notification(method, params)
        )

    async def notification(self, method: str) -> Message:
        """Take the oldest notification of `method` received, waiting up to 5 s for one."""
        with anyio.fail_after(5):
            while True:
                for index, message in enumerate(self.notifications):
                    if message.get("method") == method:
                        return self.notifications.pop(index)
                await self._pull()

    async def _pull(self) -> None:
        delivery = await self.received.receive()
        self.deliveries.append(delivery)
        message = delivery[0]
        if "method" in message:
            self.notifications.append(message)
            if self.answer is not None and jsonrpc.is_request(message):
                self.session.resolve(jsonrpc.result(message["id"], self.answer(message)))
        else:
            self._responses[message["id"]] = message

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


class AuditTrail(MemoryAuditSink):
    """The memory sink, and a way to wait for a record to be written."""

    def __init__(self) -> None:
        super().__init__()
        self._written = anyio.Event()

    def emit(self, event: AuditEvent) -> None:
        """Append the event and wake whoever waits for one."""
        super().emit(event)
        self._written.set()
        self._written = anyio.Event()

    def of(self, **fields: Any) -> list[AuditEvent]:
        """The records written so far whose attributes equal `fields`."""
        return [e for e in self.events if all(getattr(e, k) == v for k, v in fields.items())]

    async def wait_for(self, count: int = 1, **fields: Any) -> AuditEvent:
        """The `count`-th record whose attributes equal `fields`, waiting up to 5 s for it."""
        with anyio.fail_after(5):
            while len(self.of(**fields)) < count:
                await self._written.wait()
        return self.of(**fields)[count - 1]


class Tap:
    """A service's wire as the test sees it: wraps a service (`Tap(serve)` is itself one),
    records every message the gateway sends it, and lets the test send as the service."""

    def __init__(self, serve: Serve) -> None:
        self._serve = serve
        self._outbox: Outbox | None = None
        self._arrived = anyio.Event()
        self.received: list[Message] = []
        """Every message the service was sent, decoded, in order (over restarts too)."""

    async def __call__(self, inbox: Inbox, outbox: Outbox) -> None:
        self._outbox = outbox
        forward, inner = anyio.create_memory_object_stream[bytes](BUFFER)

        async def record() -> None:
            async with forward:
                async for raw in inbox:
                    self.received.append(orjson.loads(raw))
                    self._arrived.set()
                    self._arrived = anyio.Event()
                    await forward.send(raw)

        async with anyio.create_task_group() as tg, inner:
            tg.start_soon(record)
            await self._serve(inner, outbox)
            tg.cancel_scope.cancel()

    def of(self, method: str) -> list[Message]:
        """The messages of `method` received so far."""
        return [m for m in self.received if m.get("method") == method]

    async def wait_for(self, method: str, count: int = 1) -> Message:
        """The `count`-th message of `method`, waiting up to 5 s for it."""
        with anyio.fail_after(5):
            while len(self.of(method)) < count:
                await self._arrived.wait()
        return self.of(method)[count - 1]

    async def send(self, message: Message) -> None:
        """Send the gateway a message as the service (a notification, say)."""
        assert self._outbox is not None, "the service has not started"
        await self._outbox.send(jsonrpc.encode(message))


@dataclass
class Gateway:
    """The in-memory gateway of one test."""

    mesh: Mesh
    dispatcher: Dispatcher
    audit: AuditTrail
    config: GatewayConfig
    tasks: TaskGroup
    streams: list[MemoryObjectSendStream[Delivery] | MemoryObjectReceiveStream[Delivery]] = field(
        default_factory=list[Any]
    )

    def client(self, token: str | None = None) -> Client:
        """A new connected client, authenticated by `token` (None: no token)."""
        principal = build_authenticator(self.config).authenticate(token)
        send, received = anyio.create_memory_object_stream[Delivery](256)
        self.streams += (send, received)

        async def deliver(message: Message, related: RequestId | None) -> None:
            # Through the wire's encoding, as a real front does: the test sees bytes' worth.
            await send.send((orjson.loads(jsonrpc.encode(message)), related))

        session = ClientSession(deliver, principal)
        self.mesh.clients.add(session)
        return Client(self.dispatcher, session, received, self.tasks)


@asynccontextmanager
async def gateway(
    services: Mapping[str, Serve],
    config: Mapping[str, Any] | None = None,
    entries: Mapping[str, Mapping[str, Any]] | None = None,
) -> AsyncGenerator[Gateway]:
    """A started gateway over in-memory `services`; `entries` adds manifest keys per service
    (a `url` among them makes it stand for a service reached by URL; the default is a command)."""
    manifest = Manifest.model_validate({"mcpServers": {ns: _entry(entries, ns) for ns in services}})
    gateway_config = GatewayConfig.model_validate(config or {})
    mesh = Mesh(manifest, gateway_config, Path("."), memory_connector(services))
    audit = AuditTrail()
    recorder = Recorder()
    rules = compile_rules(gateway_config.rules)  # a bad rule raises here, as at start-up
    async with (
        RateLimits.open(gateway_config.rate_limits, recorder) as rate_limits,
        anyio.create_task_group() as tg,
    ):
        dispatcher = Dispatcher(mesh, audit, recorder, rate_limits, rules)
        await tg.start(mesh.run)
        with anyio.fail_after(5):
            await mesh.started.wait()
        built = Gateway(mesh, dispatcher, audit, gateway_config, tg)
        try:
            yield built
        finally:
            for stream in built.streams:
                stream.close()
            tg.cancel_scope.cancel()


def _entry(entries: Mapping[str, Mapping[str, Any]] | None, namespace: str) -> dict[str, Any]:
    extra = dict((entries or {}).get(namespace, {}))
    return extra if "url" in extra else {"command": "in-memory", **extra}
