"""The requests we sent one peer and are waiting on: correlation, deadlines, cancellation.

One class for both directions: the gateway's requests to a service (`UpstreamSession`) and a
service's requests relayed to a client (`ClientSession`). A reply is matched to its request by
id; a request we stop waiting for (deadline, or our caller cancelled) is cancelled at the peer
with `notifications/cancelled`, as MCP asks; when the connection goes, every waiter wakes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message, RequestId

logger = logging.getLogger(__name__)

CANCEL_SEND_TIMEOUT: Final = 1.0
"""Seconds a cancellation notice may take to write; it is best effort."""

Send = Callable[[Message], Awaitable[None]]


class _Waiter:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.reply: Message | None = None


class Peer:
    """Requests sent to one peer, each waiting for the reply with its id."""

    __slots__ = ("_waiting", "closed")

    def __init__(self) -> None:
        self._waiting: dict[RequestId, _Waiter] = {}
        self.closed: str | None = None
        """Why the connection is gone, once it is; requests then fail at once."""

    def __len__(self) -> int:
        """Requests sent and not yet answered."""
        return len(self._waiting)

    async def call(
        self, send: Send, message: Message, timeout: float | None = None
    ) -> Message | None:
        """Send request `message` with `send` and return its reply (`result` or `error`), or
        None when the connection closed first.

        On timeout, or when the caller is cancelled, the peer is told with
        `notifications/cancelled` (best effort) before the exception goes on.

        Raises:
            TimeoutError: no reply within `timeout` seconds.
        """
        request_id: RequestId = message["id"]
        waiter = self._waiting[request_id] = _Waiter()
        try:
            await send(message)
            with anyio.fail_after(timeout):
                await waiter.done.wait()
        except TimeoutError:
            await self._cancel(send, request_id, "timeout")
            raise
        except anyio.get_cancelled_exc_class():
            if not waiter.done.is_set():
                await self._cancel(send, request_id, "cancelled")
            raise
        finally:
            self._waiting.pop(request_id, None)
        return waiter.reply

    def waiting(self, request_id: RequestId) -> bool:
        """Whether a request sent to the peer still waits for its reply."""
        waiter = self._waiting.get(request_id)
        return waiter is not None and not waiter.done.is_set()

    def resolve(self, reply: Message) -> bool:
        """Hand a reply to the request it answers; False when nothing waits for its id."""
        reply_id = reply.get("id")
        waiter = self._waiting.get(reply_id) if jsonrpc.is_request_id(reply_id) else None
        if waiter is None or waiter.done.is_set():
            return False
        waiter.reply = reply
        waiter.done.set()
        return True

    def fail(self, request_id: RequestId, error: dict[str, object]) -> None:
        """Answer a waiting request with `error` on the peer's behalf (its channel broke)."""
        self.resolve({"jsonrpc": jsonrpc.VERSION, "id": request_id, "error": error})

    def close(self, reason: str) -> None:
        """Mark the connection gone and wake every waiting request (with no reply)."""
        if self.closed is None:
            self.closed = reason
        for waiter in self._waiting.values():
            waiter.done.set()

    async def _cancel(self, send: Send, request_id: RequestId, reason: str) -> None:
        notice = jsonrpc.notification(
            "notifications/cancelled", {"requestId": request_id, "reason": reason}
        )
        # Best effort: a peer that is gone has nobody left to tell.
        with (
            anyio.move_on_after(CANCEL_SEND_TIMEOUT, shield=True),
            contextlib.suppress(
                McpError, OSError, anyio.BrokenResourceError, anyio.ClosedResourceError
            ),
        ):
            if self.closed is None:
                await send(notice)
