"""Handshake-era HTTP sessions that every replica serves, through the store replicas share.

With `state.redis` set, a session is a record in the store, not a replica's possession: a
replica that gets a request for a session it does not hold reads the record, checks that the
request's principal is the one that opened it, and adopts the session (a `ClientSession` of the
same id, era, version, capabilities, clientInfo, log level and subscriptions). A request of
another principal, or for an id with no record, is answered as a forged id always was: 404.

    session:<id>              the record (JSON); lifetime `http.sessionIdleSeconds`, refreshed
                              by every request of the session; deleted by DELETE
    revoked:<principal>       when the principal's credential was last revoked: no replica
                              adopts a session of its opened before (same lifetime)
    channel replica:<name>    answers routed to replica <name>, which hands each to its request,
                              and what joins a standalone stream its client follows there
    channel sessions:cancel   cancellations of requests, which the replica running them acts on
    session:<id>:listener     the replica where a GET follows the session's standalone stream,
                              which the others send what joins that stream on their side

The gateway's requests to a session's client (sampling, elicitation, roots, consent) carry ids
that name the replica waiting for the answer (`<replica>:<its own id>`), unique across the
replicas serving the session; the client may post the answer to any replica, and the one that
gets it publishes it on the waiting replica's channel. Without a
shared store none of this exists: the front keeps its sessions in its own table, as ever.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import orjson

from micro_mcp import codes
from micro_mcp.errors import StateUnavailable
from micro_mcp.gateway.clients.client import Outbox
from micro_mcp.gateway.fronts.asgi import Receive, Scope, Send, fail
from micro_mcp.gateway.fronts.front import Front
from micro_mcp.gateway.fronts.http_sessions import STANDALONE, HttpSession, SessionTable
from micro_mcp.gateway.fronts.responses import stream_out
from micro_mcp.gateway.fronts.session_records import (
    Snapshot,
    cancelled_globally,
    global_id,
    local_id,
    record,
    restore,
    snapshot,
)
from micro_mcp.gateway.fronts.shared_streams import SharedStreams
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.state.replicas import Replicas
from micro_mcp.state.store import Store

logger = logging.getLogger(__name__)

BROADCAST: Final = "sessions:cancel"
"""The channel every replica hears: cancellations, which name no replica."""
RESUBSCRIBE_INTERVAL: Final = 1.0
"""Seconds between attempts to subscribe to this replica's channel while the store is down."""
ROUTING_PATIENCE: Final = 3 * RESUBSCRIBE_INTERVAL
"""Seconds an answer for another replica is offered while that replica has no subscription
(it subscribes again within `RESUBSCRIBE_INTERVAL` once Redis is back; if it is gone, the
answer is dropped after this)."""
ROUTING_RETRY: Final = 0.05
"""Seconds between those offers."""


def _key(session_id: str) -> str:
    return f"session:{session_id}"


def _channel(replica: str) -> str:
    return f"replica:{replica}"


def _revoked_key(principal: str) -> str:
    return f"revoked:{principal}"


def _listener_key(session_id: str) -> str:
    return f"session:{session_id}:listener"


class SharedSessions:
    """The sessions of this replica's HTTP front, recorded in the store replicas share."""

    def __init__(
        self,
        store: Store,
        table: SessionTable,
        front: Front,
        idle_seconds: float,
        replicas: Replicas,
    ) -> None:
        self._store = store
        self._table = table
        self._front = front
        self._ttl = idle_seconds
        self.replica = replicas.me
        """This replica's name on the store's channels: random, one per process."""
        self.streams = SharedStreams(store, replicas)
        """The response streams of sessions, kept for resumption on any replica."""

    # --- the session record -------------------------------------------------------------------

    async def open(self, session: HttpSession) -> None:
        """Record a session this replica just created, before its client learns its id.

        Raises:
            StateUnavailable: the store cannot be reached (the session is not usable).
        """
        await self._store.put(_key(session.id), record(session), self._ttl)
        self._share(session, snapshot(session.client))

    async def find(
        self, session_id: str, principal: Principal, held: HttpSession | None
    ) -> HttpSession | None:
        """The session a request of `principal` names: `held` (this replica's copy, if any,
        updated from the record) while its record lives, else adopted from its record; None
        when there is no record, it is another principal's, or it ended (DELETE elsewhere).

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        key = _key(session_id)
        if held is not None and not held.tag:
            return held  # a 2024-11-05 transport's session: this replica's alone, unrecorded
        if held is not None:
            raw = await self._store.refresh(key, self._ttl)
            if raw is not None and restore(raw, session_id, principal, into=held) is not None:
                return held  # brought up to date with what other replicas changed
            self._drop(held)  # ended elsewhere, or expired: nothing more is served on it
            return None
        if self._table.holding(session_id) is not None:
            return None  # held here for another principal
        raw = await self._store.refresh(key, self._ttl)
        session = restore(raw, session_id, principal) if raw is not None else None
        if session is None:
            return None
        revoked = await self._store.get(_revoked_key(principal.name))
        if revoked is not None and session.opened <= float(revoked):
            return None  # opened with a credential revoked since
        if not self._table.adopt(session):  # a request of the session adopted it meanwhile
            return self._table.get(session_id, principal)
        self._share(session, snapshot(session.client))
        self._front.open(session.client)
        logger.debug("adopted session %s of %s", session_id, principal.name)
        return session

    async def end(self, session_id: str) -> None:
        """Delete a session's record (DELETE): every replica answers 404 for it from now on.

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        await self._store.delete(_key(session_id))

    async def revoke(self, principals: frozenset[str], session_ids: list[str]) -> None:
        """The credentials of `principals` were revoked (a config reload; run in the
        background): delete the records of their sessions held here (`session_ids`), and mark
        the principals revoked from now, so that no replica adopts a session of theirs opened
        before. A store that is down is logged; the records expire with their idle limit."""
        now = str(time.time()).encode()
        try:
            for name in principals:
                await self._store.put(_revoked_key(name), now, self._ttl)
            for session_id in session_ids:
                await self.end(session_id)
        except StateUnavailable as exc:
            logger.warning("revoked sessions' records are not deleted: %s", exc)

    def _drop(self, session: HttpSession) -> None:
        if self._table.remove(session.id) is not None:
            self._front.close(session.client)

    def _share(self, session: HttpSession, saved: Snapshot) -> None:
        """Wrap the session's outbox: a request to the client (and its cancellation) names this
        replica as the one waiting for its answer; a response goes out after what its request
        changed (the negotiated version, the log level, subscriptions) is in the record."""
        session.tag = f".{self.replica}"
        session.standalone.name = f"{STANDALONE}{session.tag}"
        deliver: Outbox = session.client.outbox
        last = [saved]

        async def outbox(message: Message, related: RequestId | None) -> None:
            if jsonrpc.is_request(message):
                message = {**message, "id": global_id(self.replica, message["id"])}
            elif message.get("method") == "notifications/cancelled":  # of a request of ours
                message = cancelled_globally(self.replica, message)
            elif "method" not in message and (now := snapshot(session.client)) != last[0]:
                try:
                    await self._store.put(_key(session.id), record(session), self._ttl)
                    last[0] = now
                except StateUnavailable as exc:
                    if last[0][0] is None:  # the handshake itself: no replica could serve it
                        message = jsonrpc.error(message.get("id"), exc.to_error())
                    logger.warning("session %s: its record is not saved: %s", session.id, exc)
            stream = session.target(related)
            await deliver(message, related)
            if stream is session.standalone:
                await self._relay(session, message)
            elif related is not None:
                try:
                    await self.streams.keep(session.id, stream, related)
                except StateUnavailable as exc:  # served here; resumable here only
                    logger.warning("session %s: an event is not kept: %s", session.id, exc)

        session.client.outbox = outbox

    async def resume(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        session: HttpSession,
        name: str,
        after: int,
    ) -> None:
        """Answer a GET resuming another replica's response stream `name` after event `after`:
        from the events the store kept, then live; 404 when it ended with its replica."""
        extra = [(b"mcp-session-id", session.id.encode())]
        try:
            async with self.streams.resumed(session.id, name) as stream:
                if stream is None:
                    await fail(send, 404, codes.INVALID_REQUEST, "Stream not found: it ended")
                    return
                await stream_out(
                    scope, receive, send, stream, extra, modern=False, after=after, sse_only=True
                )
        except StateUnavailable as exc:
            await fail(send, 503, exc.code, exc.message)

    # --- the standalone stream, wherever the client follows it ---------------------------------

    async def _relay(self, session: HttpSession, message: Message) -> None:
        """Send what joins the standalone stream of a session nobody follows here to the
        replica where its client does, if any (list changes excepted: every replica sends its
        own)."""
        method = message.get("method")
        if session.listening or (isinstance(method, str) and method.endswith("/list_changed")):
            return
        try:
            listener = await self._store.get(_listener_key(session.id))
            if listener is not None and listener.decode() != self.replica:
                relayed = orjson.dumps({"session": session.id, "standalone": message})
                await self._store.publish(_channel(listener.decode()), relayed)
        except StateUnavailable as exc:
            logger.warning("session %s: a message was not relayed: %s", session.id, exc)

    @asynccontextmanager
    async def relayed(self, session: HttpSession) -> AsyncGenerator[None]:
        """While the block runs (a GET follows the session's standalone stream here): this
        replica is named as the one where the client listens, so what the others send the
        session's standalone stream comes here (live, best effort), and the session's record
        stays alive however long the client only listens."""
        async with anyio.create_task_group() as tg:
            await tg.start(self._listen, session)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                with anyio.move_on_after(RESUBSCRIBE_INTERVAL, shield=True):
                    with contextlib.suppress(StateUnavailable):  # then the mark expires
                        if (
                            await self._store.get(_listener_key(session.id))
                            == self.replica.encode()
                        ):
                            await self._store.delete(_listener_key(session.id))

    async def _listen(
        self, session: HttpSession, *, task_status: anyio.abc.TaskStatus[None]
    ) -> None:
        started = False
        while True:
            try:
                await self._store.put(_listener_key(session.id), self.replica.encode(), self._ttl)
                await self._store.touch(_key(session.id), self._ttl)
            except StateUnavailable as exc:
                logger.warning("session %s: not named as listening here: %s", session.id, exc)
            if not started:
                task_status.started()
                started = True
            await anyio.sleep(self._ttl / 3)

    # --- answers to the gateway's requests, wherever they land --------------------------------

    async def forward(self, session: HttpSession, message: Message) -> bool:
        """Send the client's answer to a request of the gateway's to the replica waiting for it,
        or its cancellation of a request this replica does not run to every replica; False
        when the message is this replica's to take."""
        if message.get("method") == "notifications/cancelled":
            return await self._cancel_elsewhere(session, message)
        if "method" in message:
            return False
        named = local_id(message.get("id"))
        if named is None:
            return False  # not an answer to a replica's request: the front drops it
        owner, request_id = named
        if owner == self.replica:
            message["id"] = request_id  # the request waits here, under its own id
            return False
        routed = orjson.dumps({"session": session.id, "reply": message})
        try:
            # Nobody subscribed: the owner is between two subscriptions (Redis just came back)
            # or gone. Polled, as its subscription count is all another process shows of it.
            with anyio.move_on_after(ROUTING_PATIENCE):
                while not await self._store.publish(_channel(owner), routed):  # noqa: ASYNC110
                    await anyio.sleep(ROUTING_RETRY)
        except StateUnavailable as exc:
            logger.warning("session %s: an answer was not routed: %s", session.id, exc)
        return True

    async def _cancel_elsewhere(self, session: HttpSession, message: Message) -> bool:
        params = jsonrpc.as_object(message.get("params")) or {}
        request_id = params.get("requestId")
        if not jsonrpc.is_request_id(request_id) or request_id in session.client.in_flight:
            return False
        try:
            notice = orjson.dumps({"session": session.id, "cancel": request_id})
            await self._store.publish(BROADCAST, notice)
        except StateUnavailable as exc:
            logger.warning("session %s: a cancellation was not sent on: %s", session.id, exc)
        return True

    def take(self, routed: bytes) -> None:
        """Hand an answer another replica routed here to the request waiting for it, push what
        another replica sent a session's standalone stream its client follows here, or cancel a
        request of a session held here as its client asked on another replica."""
        try:
            fields: Any = orjson.loads(routed)
        except orjson.JSONDecodeError:
            return
        match fields:
            case {"session": str() as session_id, "cancel": int() | str() as request_id}:
                session = self._table.holding(session_id)
                scope = session.client.in_flight.get(request_id) if session is not None else None
                if scope is not None:
                    scope.cancel()
            case {"session": str() as session_id, "standalone": standalone}:
                session = self._table.holding(session_id)
                message = jsonrpc.as_object(standalone)
                if session is not None and session.listening and message is not None:
                    session.standalone.push(message)
            case {"session": str() as session_id, "reply": reply}:
                session = self._table.holding(session_id)
                answer = jsonrpc.as_object(reply) or {}
                named = local_id(answer.get("id"))
                if named is not None and named[0] == self.replica:
                    answer["id"] = named[1]
                if session is None or named is None or not session.client.resolve(answer):
                    logger.debug("a routed answer for session %s waits nowhere", session_id)
            case _:
                pass

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Take the answers routed to this replica for as long as the gateway runs; while the
        store is down, subscribe again every `RESUBSCRIBE_INTERVAL`."""
        async with anyio.create_task_group() as tg:
            await tg.start(self._take_routed, _channel(self.replica))
            await tg.start(self._take_routed, BROADCAST)
            task_status.started()

    async def _take_routed(
        self,
        channel: str,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        started = False
        while True:
            try:
                async with self._store.subscribe(channel) as routed:
                    if not started:
                        task_status.started()
                        started = True
                    async for message in routed:
                        self.take(message)
            except StateUnavailable as exc:
                logger.warning("replica channel unavailable, retrying: %s", exc)
            if not started:
                task_status.started()
                started = True
            await anyio.sleep(RESUBSCRIBE_INTERVAL)
