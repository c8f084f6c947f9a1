"""The HTTP client of the services reached by URL: aiohttp, its errors and bodies made ours.

aiohttp, not httpx2: on this hop httpx2 cost about 0.45 ms of CPU a request, more than the rest
of the gateway; a sequential POST to a local uvicorn app took 722-849 us with httpx2 and
176-214 us with aiohttp. SSE answers are still read by httpx2's `EventSource` (upstream/events.py
says why), fed aiohttp's bytes through `event_response`.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import ClassVar, Final

import aiohttp
import anyio
import anyio.to_thread
import httpx2
from aiohttp.connector import Connection
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from micro_mcp.errors import UpstreamUnavailable

CONNECT_TIMEOUT: Final = 10.0
"""Seconds to open a connection to a service."""
CONNECT_RETRY: Final = 10.0
"""Seconds a request whose connection was refused is sent again for. Refused means no byte
reached the service, so sending again is safe; it is what a service replaced in place looks
like (the old process has stopped listening, the new one not yet), which is then no failed
call. A service that stays down fails its calls after this long."""
FIRST_RETRY_DELAY: Final = 0.02
"""Seconds before the first retry of a refused connection; each next waits twice as long."""
MAX_RETRY_DELAY: Final = 0.5
"""The longest wait between retries of a refused connection."""
KEEPALIVE_EXPIRY: Final = 4.0
"""Seconds an idle connection to a service is kept: under uvicorn's default 5 s, so the gateway
drops it before the server does and never sends on a connection being closed."""


@asynccontextmanager
async def client_session(
    url: str, headers: Mapping[str, str]
) -> AsyncGenerator[aiohttp.ClientSession]:
    """A session for the service at `url`, sending `headers` (the manifest's) on every request.

    No cap on connections (the bulkhead bounds the calls) and no read timeout (the session's
    per-call timeout cancels an exchange). The proxy that HTTP(S)_PROXY and NO_PROXY name for
    `url` is looked up once here: aiohttp's `trust_env` looks it up, and ~/.netrc, in a worker
    thread on every request (two thread hops a call).
    """
    proxy, proxy_auth = await anyio.to_thread.run_sync(_env_proxy, url)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_EXPIRY)
    http = aiohttp.ClientSession(
        connector=connector,
        headers=dict(headers),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
        proxy=proxy,
        proxy_auth=proxy_auth,
        request_class=_Request,
    )
    try:
        yield http
    finally:
        with anyio.CancelScope(shield=True):  # the service's task is often being cancelled
            await http.close()


def _env_proxy(url: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:  # no proxy for this URL
        return None, None


@asynccontextmanager
async def opened(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
) -> AsyncGenerator[aiohttp.ClientResponse]:
    """The response to one request, its body yet to read; redirects are not followed.

    Leaving the block early (cancelled, or on an error) closes the connection under the response,
    which ends a stream for the service too; otherwise it goes back to the pool.

    Raises:
        UpstreamUnavailable: the service could not be reached, or the connection broke.
    """
    response = await _sent(http, method, url, headers, body)
    try:
        yield response
    except aiohttp.ClientError as exc:
        response.close()
        raise UpstreamUnavailable(f"{method} {url} broke: {exc!r}") from exc
    except BaseException:
        response.close()
        raise
    response.release()


async def _sent(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | None,
) -> aiohttp.ClientResponse:
    """Send one request: sent again while refused at connect, for up to `CONNECT_RETRY`, and
    once if its kept-alive connection broke before any byte of an answer.

    Raises:
        UpstreamUnavailable: the service could not be reached.
    """
    deadline = anyio.current_time() + CONNECT_RETRY
    delay = FIRST_RETRY_DELAY
    resent = False
    while True:
        _REUSED.set(False)
        try:
            return await http.request(
                method, url, headers=headers, data=body, allow_redirects=False
            )
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            if not refused or anyio.current_time() + delay > deadline:
                raise UpstreamUnavailable(f"{method} {url} failed: {exc!r}") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            # Closed or reset before any byte of an answer, on a kept-alive connection: the
            # service closed it while idle (a graceful stop does), as the request went out.
            # Sent again once, on another connection, as browsers do (Chromium's
            # ShouldResendRequest); a fresh connection that breaks is not.
            if resent or not _REUSED.get():
                raise UpstreamUnavailable(f"{method} {url} failed: {exc!r}") from exc
            resent = True
            continue
        except (aiohttp.ClientError, TimeoutError) as exc:  # a TimeoutError: the connect timeout
            raise UpstreamUnavailable(f"{method} {url} failed: {exc!r}") from exc
        await anyio.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY)


_REUSED: ContextVar[bool] = ContextVar("micro_mcp_connection_reused", default=False)
"""Whether the request just sent in this task went out on a kept-alive connection."""


class _Request(aiohttp.ClientRequest):
    """Notes in `_REUSED` whether its connection carried a request before: a set of the
    connections used, rather than aiohttp's tracing, which costs ~15 us a request."""

    _used: ClassVar[weakref.WeakSet[object]] = weakref.WeakSet()

    async def send(self, conn: Connection) -> aiohttp.ClientResponse:
        protocol = conn.protocol
        _REUSED.set(protocol in self._used)
        if protocol is not None:
            self._used.add(protocol)
        return await super().send(conn)


def event_response(response: aiohttp.ClientResponse) -> httpx2.Response:
    """`response` as an httpx2 response for `EventSource`: status, content type, streamed body.

    Only the content type is carried over: aiohttp has already undone any content encoding.
    """
    headers = {"content-type": response.headers.get("content-type", "")}
    request = _request(response.method, str(response.url))
    return httpx2.Response(
        response.status, headers=headers, stream=_Body(response.content), request=request
    )


@functools.lru_cache(maxsize=64)
def _request(method: str, url: str) -> httpx2.Request:
    """The request an event stream answers, as httpx2 notes it on its errors: the same few for
    every answer, so built once (12 us each)."""
    return httpx2.Request(method, url)


class _Body(httpx2.AsyncByteStream):
    """aiohttp's body as it arrives, its failures as `UpstreamUnavailable`."""

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self._content = content

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._content.iter_any():
                yield chunk
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(f"the event stream broke: {exc!r}") from exc
