"""Handshake-era sessions of the HTTP front: who opened them, and their streams.

A session is created by `initialize`, named by a random `Mcp-Session-Id`, and bound to the
principal that opened it: another principal presenting the same id is told it does not exist.
Every message for the session's client lands in an `EventStream`: the response stream of the
request it belongs to, or the session's standalone stream (read with GET).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from typing import Final

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.fronts.streams import EventStream, is_reply_to
from micro_mcp.policy.model import Principal
from micro_mcp.protocol.jsonrpc import Message, RequestId

RESPONSE_STREAMS_KEPT: Final = 32
"""Finished response streams a session keeps, for clients that resume one after a drop."""
STANDALONE: Final = "s"
"""The name of a session's standalone (GET) stream."""


class HttpSession:
    """One handshake-era client over HTTP."""

    __slots__ = (
        "_count",
        "_streams",
        "client",
        "id",
        "last_used",
        "listening",
        "principal",
        "standalone",
    )

    def __init__(self, principal: Principal) -> None:
        self.id = secrets.token_urlsafe(24)
        self.principal = principal
        self.client = ClientSession(self.deliver, principal, pause=self.pause)
        self.standalone = EventStream(STANDALONE)
        self._streams: OrderedDict[RequestId, EventStream] = OrderedDict()
        self._count = 0
        self.listening = False
        """True while a client follows the standalone stream (at most one may)."""
        self.last_used = time.monotonic()

    def open_response(self, request_id: RequestId) -> EventStream:
        """A new stream for the response to `request_id` and what belongs to it."""
        self._count += 1
        stream = EventStream(f"r{self._count}")
        self._streams[request_id] = stream
        while len(self._streams) > RESPONSE_STREAMS_KEPT:
            oldest = next(iter(self._streams))
            if not self._streams[oldest].finished:
                break  # never drop a stream that is still in use
            del self._streams[oldest]
        return stream

    def forget(self, request_id: RequestId) -> None:
        """Drop a finished response stream nobody can resume."""
        stream = self._streams.get(request_id)
        if stream is not None and stream.finished:
            del self._streams[request_id]

    def stream_named(self, name: str) -> EventStream | None:
        """A stream of this session by its event-id name, for `Last-Event-ID`."""
        if name == STANDALONE:
            return self.standalone
        return next((s for s in self._streams.values() if s.name == name), None)

    async def deliver(self, message: Message, related: RequestId | None) -> None:
        """The session's outbox: a message joins its request's stream, else the standalone one."""
        stream = self._streams.get(related) if related is not None else None
        if stream is None or stream.finished:
            self.standalone.push(message)
            return
        stream.push(message, last=is_reply_to(message, related))

    def pause(self, request_id: RequestId) -> None:
        """End the response being written for `request_id` without its reply; the client
        resumes the stream with `Last-Event-ID` (only a primed response gives way)."""
        stream = self._streams.get(request_id)
        if stream is not None:
            stream.cut()

    def close(self) -> None:
        """End every stream and cancel every request in flight."""
        self.standalone.close()
        for stream in self._streams.values():
            stream.close()
        for scope in self.client.in_flight.values():
            scope.cancel()


class SessionTable:
    """The open sessions, with a cap and an idle limit."""

    def __init__(self, max_sessions: int, idle_seconds: float) -> None:
        self._sessions: dict[str, HttpSession] = {}
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds

    def create(self, principal: Principal) -> HttpSession | None:
        """A new session, or None when the table is full."""
        if len(self._sessions) >= self.max_sessions:
            self.sweep()
            if len(self._sessions) >= self.max_sessions:
                return None
        session = HttpSession(principal)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str, principal: Principal) -> HttpSession | None:
        """The session with this id opened by this principal, else None."""
        session = self._sessions.get(session_id)
        if session is None or session.principal.name != principal.name:
            return None
        session.last_used = time.monotonic()
        return session

    def remove(self, session_id: str) -> HttpSession | None:
        """Forget a session and return it (closed), if it was open."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()
        return session

    def sweep(self) -> list[HttpSession]:
        """Close sessions idle past the limit that nobody is following; return them."""
        cutoff = time.monotonic() - self.idle_seconds
        idle = [
            s
            for s in self._sessions.values()
            if s.last_used < cutoff and not s.listening and not s.client.in_flight
        ]
        for session in idle:
            self.remove(session.id)
        return idle

    def end_idle_streams(self) -> bool:
        """End the standalone stream of every session with no request in flight (shutdown);
        True while some session still has one."""
        busy = False
        for session in self._sessions.values():
            if session.client.in_flight:
                busy = True
            else:
                session.standalone.close()
        return busy

    def close_all(self) -> None:
        """Close every session (shutdown)."""
        for session_id in list(self._sessions):
            self.remove(session_id)
