"""The HTTP+SSE transport of MCP 2024-11-05, for clients that predate Streamable HTTP.

GET `/sse` opens a session and an event stream whose first event, `endpoint`, names where to
POST messages (`/messages?session_id=...`). Every reply and notification then arrives on that
one stream; a POST is only acknowledged (202). Sessions, principals and streams are the same as
Streamable HTTP's, so both transports share one session table.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs

import anyio
from anyio.abc import TaskGroup

from micro_mcp import codes
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.fronts.asgi import (
    SSE_HEADERS,
    Receive,
    Scope,
    Send,
    cancel_on_disconnect,
    fail,
    read_message,
    reply,
)
from micro_mcp.gateway.fronts.front import Front
from micro_mcp.gateway.fronts.http_sessions import Refusal, SessionTable, refuse
from micro_mcp.policy.model import Principal
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.transport import sse

STREAM_PATH: Final = "/sse"
MESSAGES_PATH: Final = "/messages"


class LegacySse:
    """The two paths of the 2024-11-05 transport, over the Streamable HTTP front's sessions."""

    def __init__(self, dispatcher: Dispatcher, sessions: SessionTable, tasks: TaskGroup) -> None:
        self.dispatcher = dispatcher
        self.front = Front(dispatcher)
        self.sessions = sessions
        self.tasks = tasks

    async def serve(self, scope: Scope, receive: Receive, send: Send, principal: Principal) -> None:
        """Answer a request on one of the two paths of the 2024-11-05 transport."""
        path, method = scope["path"].rstrip("/"), scope["method"]
        if path == STREAM_PATH and method == "GET":
            await self._open(receive, send, principal)
        elif path == MESSAGES_PATH and method == "POST":
            await self._message(scope, receive, send, principal)
        else:
            await fail(send, 405, codes.INVALID_REQUEST, "Method not allowed")

    async def _open(self, receive: Receive, send: Send, principal: Principal) -> None:
        session = self.sessions.create(principal)
        if isinstance(session, Refusal):
            await refuse(send, session, self.sessions.per_principal, None)
            return
        self.front.open(session.client)
        session.listening = True
        endpoint = f"{MESSAGES_PATH}?session_id={session.id}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        first = b"event: endpoint\ndata: " + endpoint + b"\n\n"
        await send({"type": "http.response.body", "body": first, "more_body": True})
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_on_disconnect, receive, tg.cancel_scope)
                async for seq, data in session.standalone.follow():
                    event = sse.event(session.standalone.event_id(seq), data)
                    await send({"type": "http.response.body", "body": event, "more_body": True})
                tg.cancel_scope.cancel()
        finally:
            # The stream is the session: when it closes, the session ends.
            self.sessions.remove(session.id)
            self.front.close(session.client)

    async def _message(
        self, scope: Scope, receive: Receive, send: Send, principal: Principal
    ) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        session = self.sessions.get((query.get("session_id") or [""])[0], principal)
        if session is None:
            await fail(send, 404, codes.INVALID_REQUEST, "Session not found")
            return
        message = await read_message(receive, send)
        if message is None:
            return
        client = session.client

        async def run(request: Message) -> None:
            # No response stream of its own: the reply joins the session's one stream.
            self.tasks.start_soon(self.dispatcher.handle_request, client, request)

        await self.front.take(client, message, run)
        await reply(send, 202, b"Accepted", [])
