"""uvicorn as the gateway runs it: request heads bounded in size and time, signals left alone.

httptools, uvicorn's fast parser, has no limit of its own on a request head: it keeps every byte
of an unfinished header line, and uvicorn waits for the rest as long as the client likes. Both
happen before the ASGI application (and its token check) sees anything, so the bound sits here,
in the connection's protocol: a head past `maxHeaderBytes` gets 431 and the connection closes,
and a connection that has not finished its head within `headerTimeout` is closed (Envoy's
default limit on a head is 60 KiB). Once the head is in, the cost is two attribute tests a read.

Each request's scope also carries a `Hangup` (the `asgi.HANGUP` extension), which the protocol
calls when the connection is lost before the response is complete: the application learns of a
client that left without a task per request waiting on `receive()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from typing import Any, ClassVar, Final

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from micro_mcp.gateway.fronts.asgi import HANGUP, Hangup

HEAD_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 32\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"Request header fields too large\n"
)
"""The whole answer to an oversized head: written straight to the socket, as uvicorn answers
a head it cannot parse."""
LINGER: Final = 2.0
"""Seconds a refused connection keeps reading (and dropping) what the client still sends after
the 431 is written: closing a socket with unread input resets it, and the client would lose the
answer."""


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a limit on the size and the time of each request head."""

    max_head_bytes: ClassVar[int] = 64 * 1024
    head_timeout: ClassVar[float] = 10.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._head: int | None = 0
        """Bytes read since the current request head began; None once it is complete."""
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._hangup: Hangup | None = None
        """The current request's, until its response is complete."""

    @classmethod
    def bounded(cls, max_head_bytes: int, head_timeout: float) -> type[BoundedHeadProtocol]:
        """This protocol with the given limits (uvicorn takes a class, not an instance)."""
        limits = {"max_head_bytes": max_head_bytes, "head_timeout": head_timeout}
        return type(cls.__name__, (cls,), limits)

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)
        hangup = self._hangup
        # A callback is set only while the application runs, so there is a cycle.
        if hangup is not None and hangup.callback is not None and self.cycle.disconnected:
            hangup()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)
        if self._head is not None:
            # Counted after parsing, so a read that finishes the head is not counted against it;
            # httptools holds at most one read (256 KiB) past the limit before this check.
            self._head += len(data)
            if self._head > self.max_head_bytes and not self.transport.is_closing():
                self._refuse()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._hangup = Hangup()
        self.scope["extensions"] = {HANGUP: {"hangup": self._hangup}}
        self._head = 0
        if self._head_timer is None:  # the first head's timer runs from the connection's start
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def on_headers_complete(self) -> None:
        self._head = None
        self._stop_head_timer()
        super().on_headers_complete()

    def _refuse(self) -> None:
        """Answer 431, then drop the rest of the input until the client closes or `LINGER`."""
        self._refused, self._head = True, None
        self._stop_head_timer()
        self.transport.write(HEAD_TOO_LARGE)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._head_timer = self.loop.call_later(LINGER, self.transport.close)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self._head is not None and not self.transport.is_closing():
            self.transport.close()


class GatewayServer(uvicorn.Server):
    """uvicorn's server without its signal handlers: the gateway owns SIGINT and SIGTERM.

    uvicorn's own handlers stop the server and then raise the signal again once `serve()`
    returns, which kills the process before the gateway has drained and stopped its services
    (and a service that ignores its stdin lives on). The gateway sets `should_exit` itself.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        """Leave the process's signal handlers as they are."""
        yield
