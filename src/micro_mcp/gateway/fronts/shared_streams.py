"""Response streams of shared handshake-era sessions, resumable on any replica.

A request of a session runs on the replica it landed on, and its response stream lives there.
With sessions shared, each event of such a stream is also appended to a capped list in the
store and published on the stream's channel, so a client that lost the connection and resumes
with `Last-Event-ID` on another replica gets the events it missed, then the rest live:

    session:<id>:events:<stream>   the stream's last `EVENTS_KEPT` events (`EVENTS_TTL`, and
                                   `FINISHED_TTL` once its reply is in)
    channel events:<id>:<stream>   each event as it is added

A stream's name ends with its replica's name (`r7.<replica>`). When that replica stops (its
announcement in `state/replicas.py` expires) before the stream's last event, the resuming
replica ends the stream with an error for the request, which the client may send again."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
import orjson

from micro_mcp import codes
from micro_mcp.errors import StateUnavailable
from micro_mcp.gateway.fronts.streams import EVENTS_KEPT, EventStream
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import RequestId
from micro_mcp.state.replicas import HEARTBEAT, Replicas
from micro_mcp.state.store import Store

logger = logging.getLogger(__name__)

EVENTS_TTL: Final = 300.0
"""Seconds a response stream's events stay in the store after its latest one."""
FINISHED_TTL: Final = 30.0
"""Seconds they stay after the stream's last event (its reply): a client resumes a stream it
lost within seconds, and most replies are written whole and never resumed."""
KEPT_EVENT_MAX_BYTES: Final = 1024 * 1024
"""The largest event kept in the store; a larger reply is kept as an error that says so."""


def _events_key(session_id: str, name: str) -> str:
    return f"session:{session_id}:events:{name}"


def _channel(session_id: str, name: str) -> str:
    return f"events:{session_id}:{name}"


def _event(seq: int, data: bytes, last: bool, request: RequestId) -> bytes:
    """One kept event: a JSON head (number, whether it is the last, the request), then data."""
    return orjson.dumps([seq, last, request]) + b"\n" + data


def _parse(raw: bytes) -> tuple[int, bytes, bool, RequestId] | None:
    head, _, data = raw.partition(b"\n")
    try:
        fields: Any = orjson.loads(head)
    except orjson.JSONDecodeError:
        return None
    match fields:
        case [int() as seq, bool() as last, int() | str() as request]:
            return seq, data, last, request
        case _:
            return None


class SharedStreams:
    """What one replica keeps of its response streams, and how it resumes another's."""

    def __init__(self, store: Store, replicas: Replicas) -> None:
        self._store = store
        self._replicas = replicas
        self.replica = replicas.me

    async def keep(self, session_id: str, stream: EventStream, request: RequestId) -> None:
        """Keep the event just pushed on `stream`, the response stream of `request`.

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        seq, data = stream.latest()
        if len(data) > KEPT_EVENT_MAX_BYTES:
            if not stream.finished:
                return  # a progress or log line that large is dropped for other replicas
            error = {
                "code": codes.INTERNAL_ERROR,
                "message": "the reply was too large to keep for resumption on another gateway "
                "replica; send the request again",
            }
            data = jsonrpc.encode(jsonrpc.error(request, error))[:-1]
        await self._store.append(
            _events_key(session_id, stream.name),
            _event(seq, data, stream.finished, request),
            EVENTS_KEPT,
            FINISHED_TTL if stream.finished else EVENTS_TTL,
            _channel(session_id, stream.name),
        )

    def foreign(self, name: str) -> bool:
        """Whether stream `name` is another replica's response stream."""
        owner = name.rpartition(".")[2]
        return name.startswith("r") and "." in name and owner != self.replica

    @asynccontextmanager
    async def resumed(self, session_id: str, name: str) -> AsyncGenerator[EventStream | None]:
        """Another replica's response stream `name` (see `foreign`): its kept events in, the
        rest coming live for the block; None when nothing of it is kept and its replica has
        stopped (nothing will come: the client is told the stream is not found).

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        owner = name.rpartition(".")[2]
        stream = EventStream(name)
        async with (
            self._store.subscribe(_channel(session_id, name)) as live,
            anyio.create_task_group() as tg,
        ):
            # Subscribed first, read second: an event added in between comes both ways, and
            # `mirror` takes it once.
            request = None
            for raw in await self._store.items(_events_key(session_id, name)):
                request = self._put(stream, raw) or request
            if request is None and not await self._replicas.alive(owner):
                tg.cancel_scope.cancel()
                yield None
                return
            if not stream.finished:
                tg.start_soon(self._follow, stream, live)
                tg.start_soon(self._watch, stream, owner, request)
            try:
                yield stream
            finally:
                tg.cancel_scope.cancel()

    def _put(self, stream: EventStream, raw: bytes) -> RequestId | None:
        parsed = _parse(raw)
        if parsed is None:
            return None
        seq, data, last, request = parsed
        stream.mirror(seq, data, last=last)
        return request

    async def _follow(self, stream: EventStream, live: AsyncIterator[bytes]) -> None:
        try:
            async for raw in live:
                self._put(stream, raw)
                if stream.finished:
                    return
        except StateUnavailable:
            stream.close()

    async def _watch(self, stream: EventStream, owner: str, request: RequestId | None) -> None:
        """Once the stream's replica has stopped, end the stream: with an error for `request`
        when it is known, else bare (the client resumes again, and is told it is gone)."""
        while not stream.finished:
            if not await self._replicas.alive(owner):
                break
            await anyio.sleep(HEARTBEAT)
        if stream.finished:
            return
        if request is None:
            stream.close()
            return
        error = {
            "code": codes.UPSTREAM_UNAVAILABLE,
            "message": "the gateway replica running this request stopped before answering it; "
            "send it again",
        }
        data = jsonrpc.encode(jsonrpc.error(request, error))[:-1]
        stream.mirror(stream.seq + 1, data, last=True)
