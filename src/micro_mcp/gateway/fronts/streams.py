"""Replayable streams of messages to one HTTP client.

Every message bound for a client over Streamable HTTP goes into an `EventStream`: the response
stream of one request, or the session's standalone stream. A stream keeps its last events, so a
client whose connection dropped can resume with `Last-Event-ID` and lose nothing that is still
kept, and it wakes whoever follows it live. Memory stays bounded: old events fall off the end.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from typing import Final

import anyio

from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message

EVENTS_KEPT: Final = 128
"""Events a stream keeps for resumption."""


def is_reply_to(message: Message, request_id: object) -> bool:
    """True for the response to `request_id`: the last message of that request's stream."""
    return "method" not in message and message.get("id") == request_id


class EventStream:
    """An ordered, bounded log of encoded messages with live followers."""

    __slots__ = ("_log", "_wake", "cuts", "finished", "name", "seq")

    def __init__(self, name: str, keep: int = EVENTS_KEPT) -> None:
        self.name = name
        self.seq = 0
        self.finished = False
        """True once the stream's last message (a response) is in."""
        self.cuts = 0
        """How often the stream was cut: its followers told to stop, the stream going on."""
        self._log: deque[tuple[int, bytes]] = deque(maxlen=keep)
        self._wake = anyio.Event()

    def push(self, message: Message, *, last: bool = False) -> None:
        """Append a message; `last` closes the stream after it."""
        self.seq += 1
        self._log.append((self.seq, jsonrpc.encode(message)[:-1]))
        self.finished = self.finished or last
        self._wake.set()
        self._wake = anyio.Event()

    def latest(self) -> tuple[int, bytes]:
        """The last event pushed: its number and data (the stream must have one)."""
        return self._log[-1]

    def mirror(self, seq: int, data: bytes, *, last: bool) -> None:
        """Add an event numbered elsewhere (the replica holding the original of a stream
        resumed here), skipping one already in."""
        if seq <= self.seq:
            return
        self.seq = seq
        self._log.append((seq, data))
        self.finished = self.finished or last
        self._wake.set()
        self._wake = anyio.Event()

    def close(self) -> None:
        """End the stream without a further message (its session ended)."""
        self.finished = True
        self._wake.set()

    def cut(self) -> None:
        """Stop the stream's current followers that asked to stop at a cut, once they have
        what is in; the stream goes on for whoever resumes it."""
        self.cuts += 1
        self._wake.set()
        self._wake = anyio.Event()

    def event_id(self, seq: int) -> str:
        """The SSE id of event `seq` of this stream."""
        return f"{self.name}-{seq}"

    async def follow(
        self, after: int = 0, *, until_cut: bool = False
    ) -> AsyncIterator[tuple[int, bytes]]:
        """Yield `(seq, data)` for every kept event after `after`, then live ones, until closed
        (or, `until_cut`, until the stream is cut after the follow began)."""
        cursor = after
        cuts = self.cuts
        while True:
            wake = self._wake  # taken before the scan: a push during a yield still wakes us
            for seq, data in list(self._log):
                if seq > cursor:
                    cursor = seq
                    yield seq, data
            if (self.finished and cursor >= self.seq) or (until_cut and self.cuts != cuts):
                return
            await wake.wait()
