"""Handshake-era sessions of the HTTP front: who opened them, and their streams.

A session is created by `initialize`, named by a random `Mcp-Session-Id`, and bound to the
principal that opened it: another principal presenting the same id is told it does not exist.
Every message for the session's client lands in an `EventStream`: the response stream of the
request it belongs to, or the session's standalone stream (read with GET).
"""

from __future__ import annotations

import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import anyio

from micro_mcp import codes
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.fronts.asgi import JSON_HEADERS, Send, reply
from micro_mcp.gateway.fronts.streams import EventStream, is_reply_to
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message, RequestId

RESPONSE_STREAMS_KEPT: Final = 32
"""Finished response streams a session keeps, for clients that resume one after a drop."""
DRAIN_CHECK_INTERVAL: Final = 0.1
"""Seconds between checks, on shutdown, for sessions whose requests are all answered."""
STANDALONE: Final = "s"
"""The name of a session's standalone (GET) stream (with its `tag` when sessions are shared)."""


def header_problem(headers: Mapping[str, str]) -> str | None:
    """What is wrong with a session request's headers (400), if anything: no session id, or a
    protocol version no session can have."""
    if "mcp-session-id" not in headers:
        return "Bad request: Mcp-Session-Id missing"
    version = headers.get("mcp-protocol-version")
    if version is not None and version not in versions.HANDSHAKE_VERSIONS:
        return f"Unsupported protocol {version!r}"
    return None


class HttpSession:
    """One handshake-era client over HTTP."""

    __slots__ = (
        "_count",
        "_streams",
        "client",
        "id",
        "last_used",
        "listening",
        "opened",
        "principal",
        "standalone",
        "tag",
    )

    def __init__(self, principal: Principal, session_id: str | None = None) -> None:
        self.id = session_id if session_id is not None else secrets.token_urlsafe(24)
        self.principal = principal
        self.client = ClientSession(self.deliver, principal, pause=self.pause)
        self.standalone = EventStream(STANDALONE)
        self._streams: OrderedDict[RequestId, EventStream] = OrderedDict()
        self._count = 0
        self.listening = False
        """True while a client follows the standalone stream (at most one may)."""
        self.last_used = time.monotonic()
        self.opened = time.time()
        """When the session was opened (wall clock: replicas compare it with revocations)."""
        self.tag = ""
        """Appended to the names of its response streams: with sessions shared, the replica's
        name, so that a `Last-Event-ID` of another replica's stream names none of this one's."""

    def open_response(self, request_id: RequestId) -> EventStream:
        """A new stream for the response to `request_id` and what belongs to it."""
        self._count += 1
        stream = EventStream(f"r{self._count}{self.tag}")
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
        if name == self.standalone.name:
            return self.standalone
        return next((s for s in self._streams.values() if s.name == name), None)

    def target(self, related: RequestId | None) -> EventStream:
        """The stream a message for request `related` joins: its response stream while that is
        open, else the standalone one."""
        stream = self._streams.get(related) if related is not None else None
        return self.standalone if stream is None or stream.finished else stream

    async def deliver(self, message: Message, related: RequestId | None) -> None:
        """The session's outbox: a message joins its request's stream, else the standalone one."""
        stream = self.target(related)
        if stream is self.standalone:
            stream.push(message)
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


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why no session was opened: the gateway's cap (`principal` False) or the principal's
    share, and the seconds until one of its sessions could idle out (a hint)."""

    principal: bool
    retry_after: int


async def refuse(send: Send, refusal: Refusal, limit: int, request_id: RequestId | None) -> None:
    """Answer a request that would have opened a session: 429 with `Retry-After` when the
    principal holds its share (`limit`), 503 when the gateway is full."""
    if not refusal.principal:
        error = {"code": codes.INTERNAL_ERROR, "message": "Too many sessions; try later"}
        await reply(send, 503, jsonrpc.encode(jsonrpc.error(request_id, error)), JSON_HEADERS)
        return
    error = {
        "code": codes.RATE_LIMITED,
        "message": f"Too many sessions for this principal (at most {limit}): end one with "
        "DELETE, or wait until one idles out",
        "data": {"retryAfter": refusal.retry_after},
    }
    retry = (b"retry-after", str(refusal.retry_after).encode())
    body = jsonrpc.encode(jsonrpc.error(request_id, error))
    await reply(send, 429, body, [*JSON_HEADERS, retry])


class SessionTable:
    """The open sessions, with a cap overall and per principal, and an idle limit."""

    def __init__(self, max_sessions: int, idle_seconds: float, per_principal: int) -> None:
        self._sessions: dict[str, HttpSession] = {}
        self._held: dict[str, int] = {}
        """Principal name -> its open sessions."""
        self.max_sessions = max_sessions
        self.per_principal = per_principal
        self.idle_seconds = idle_seconds

    def create(self, principal: Principal) -> HttpSession | Refusal:
        """A new session, or why not: the principal holds its share, or the table is full.
        Idle sessions are swept first, so only sessions in use keep anyone out."""
        name = principal.name
        if len(self._sessions) >= self.max_sessions:
            self.sweep()
            if len(self._sessions) >= self.max_sessions:
                return Refusal(False, self._retry_after(None))
        if self._held.get(name, 0) >= self.per_principal:
            self.sweep()
            if self._held.get(name, 0) >= self.per_principal:
                return Refusal(True, self._retry_after(name))
        session = HttpSession(principal)
        self._sessions[session.id] = session
        self._held[name] = self._held.get(name, 0) + 1
        return session

    def adopt(self, session: HttpSession) -> bool:
        """Hold a session another replica opened (its record in the shared store); False when
        an id like it is held already. Caps do not apply: the session exists, this replica
        only serves it."""
        if session.id in self._sessions:
            return False
        self._sessions[session.id] = session
        name = session.principal.name
        self._held[name] = self._held.get(name, 0) + 1
        return True

    def holding(self, session_id: str) -> HttpSession | None:
        """The session with this id held here, whoever opened it (for what the gateway itself
        routes to it, never for a client's request)."""
        return self._sessions.get(session_id)

    def held(self, principal: Principal) -> int:
        """The sessions `principal` holds open."""
        return self._held.get(principal.name, 0)

    def _retry_after(self, name: str | None) -> int:
        """Seconds until the least recently used session (of principal `name`, or any) could
        idle out, at least 1: a hint, since a session in use does not."""
        times = [
            s.last_used for s in self._sessions.values() if name is None or s.principal.name == name
        ]
        oldest = min(times, default=time.monotonic())
        return max(1, math.ceil(oldest + self.idle_seconds - time.monotonic()))

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
            name = session.principal.name
            left = self._held[name] - 1
            if left:
                self._held[name] = left
            else:
                del self._held[name]
        return session

    def revoke(self, principals: frozenset[str]) -> list[HttpSession]:
        """Close the sessions of the named principals; return them."""
        revoked = [s for s in self._sessions.values() if s.principal.name in principals]
        for session in revoked:
            self.remove(session.id)
        return revoked

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

    async def drain(self) -> None:
        """On shutdown, end each session's standalone stream once its requests are answered;
        return when every one has ended."""
        # Polled: a request ends in the dispatcher, which tells no one; this runs once, at exit.
        while True:
            busy = False
            for session in self._sessions.values():
                if session.client.in_flight:
                    busy = True
                else:
                    session.standalone.close()
            if not busy:
                return
            await anyio.sleep(DRAIN_CHECK_INTERVAL)

    def close_all(self) -> None:
        """Close every session (shutdown)."""
        for session_id in list(self._sessions):
            self.remove(session_id)
