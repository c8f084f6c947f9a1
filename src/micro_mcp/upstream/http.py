"""A service reached by URL over Streamable HTTP, in whichever era it speaks.

Each message is one POST. A request's answer comes back as JSON or as an SSE stream (with
progress and log lines before the reply); both are read in a task of their own, so requests
overlap and a `subscriptions/listen` stream can stay open. A handshake-era session gets its
`Mcp-Session-Id` from the `initialize` reply and a GET stream for what the service sends on
its own, and a request's stream that the service closes before the reply (SEP-1699 polling) is
resumed with a GET and `Last-Event-ID`. Cancelling a request closes its response stream
(2026-07-28's cancellation) and, for the handshake era, also sends `notifications/cancelled`.

A 2026-07-28 request carries the routing headers a client must send (`Mcp-Method`, `Mcp-Name`,
and for `tools/call` the `Mcp-Param-*` headers that mirror the arguments the tool annotates with
`x-mcp-header`, learnt from the service's own `tools/list` replies as they pass).

The service's own credentials come from the manifest's `headers` (references resolved by the
caller); the client's token never travels here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.shared.inbound import (
    encode_header_value,
    find_invalid_x_mcp_header,
    mcp_param_headers,
    x_mcp_header_map,
)

from micro_mcp import codes
from micro_mcp.config.model import ServiceSpec
from micro_mcp.errors import McpError, MessageTooLarge, UpstreamCredentials, UpstreamUnavailable
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era
from micro_mcp.transport import sse
from micro_mcp.upstream._client import client_session, event_response, opened
from micro_mcp.upstream.events import is_event_stream, read_events
from micro_mcp.upstream.session import SessionHandler, UpstreamSession
from micro_mcp.upstream.tokens import CALLER, Tokens, as_gateway

logger = logging.getLogger(__name__)

REOPEN_TIMEOUT: Final = 10.0
"""Seconds to initialize a new handshake-era session when the service forgot the old one."""
RECONNECT_DELAY: Final = 1.0
"""Seconds before the standalone GET stream is opened again after it drops."""
_ACCEPT: Final = "application/json, text/event-stream"


async def run_http_service(
    namespace: str,
    spec: ServiceSpec,
    handler: SessionHandler,
    on_session: Any,
    *,
    headers: Mapping[str, str],
    max_message_bytes: int,
    tokens: Tokens | None = None,
    task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Connect to the service, hand its session to `on_session`, serve until cancelled;
    every request carries `headers` (the manifest's, resolved) and, with `tokens`, an OAuth
    token for the caller it is made for (or the gateway's own).

    Raises:
        McpError: the service could not be reached or failed its handshake.
    """
    assert spec.url is not None, "HTTP services have a url"  # checked by ServiceSpec
    as_gateway()  # the connection's own tasks never act in the name of the caller that opened it
    async with client_session(spec.url, headers) as http, anyio.create_task_group() as tg:
        channel = HttpChannel(namespace, spec.url, http, tg, max_message_bytes, tokens)
        session = UpstreamSession(namespace, channel.send, handler)
        channel.session = session
        try:
            with anyio.fail_after(spec.startup_timeout):
                await session.handshake(spec.protocol, spec.startup_timeout)
                channel.version = session.version if session.era is Era.HANDSHAKE else None
                await on_session(session)
        except TimeoutError:
            raise McpError(f"service {namespace!r} did not finish starting in time") from None
        if session.era is Era.HANDSHAKE and channel.session_id is not None:
            tg.start_soon(channel.follow_standalone)
        task_status.started(session)
        try:
            await anyio.sleep_forever()
        finally:
            session.close("the gateway stopped it")
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                await channel.end_session()


class HttpChannel:
    """Carries one service's messages as HTTP requests."""

    def __init__(
        self,
        namespace: str,
        url: str,
        http: aiohttp.ClientSession,
        tg: TaskGroup,
        limit: int,
        tokens: Tokens | None = None,
    ) -> None:
        self.namespace = namespace
        self.tokens = tokens
        """The service's OAuth tokens (its `auth`), sent as `Authorization`; None: none."""
        self.url = url
        self.http = http
        self.tg = tg
        self.limit = limit
        self.session: UpstreamSession | None = None
        self.session_id: str | None = None
        self.version: str | None = None
        """The negotiated handshake-era version, sent as `MCP-Protocol-Version` once known."""
        self.last_event_id: str | None = None
        """The id of the last event on the standalone stream: where reopening it resumes."""
        self._exchanges: dict[RequestId, anyio.CancelScope] = {}
        self._listings: set[RequestId] = set()
        """Ids of `tools/list` requests in flight, whose replies teach `_param_headers`."""
        self._param_headers: dict[str, dict[tuple[str, ...], str]] = {}
        """Tool name -> argument path -> the `Mcp-Param-*` suffix it is mirrored into."""
        self._reopening = anyio.Lock()
        """Held while a handshake-era session the service forgot is initialized anew."""
        self.following = False
        """Whether `follow_standalone` runs."""

    async def send(self, message: Message) -> None:
        """POST one message; a request's answer is read in the background."""
        if message.get("method") == "notifications/cancelled":
            params = jsonrpc.as_object(message.get("params")) or {}
            target = params.get("requestId")
            scope = self._exchanges.get(target) if jsonrpc.is_request_id(target) else None
            if scope is not None:
                scope.cancel()  # closing the response stream is the cancellation in 2026-07-28
            if self.version is None:
                return
        headers = self._headers(message)
        if self.tokens is not None:
            caller = CALLER.get() if jsonrpc.is_request(message) else None
            headers["authorization"] = await self.tokens.authorization(caller)
        if jsonrpc.is_request(message):
            if message["method"] == "tools/list":
                self._listings.add(message["id"])
            self.tg.start_soon(self._exchange, message, headers)
            return
        try:
            async with opened(self.http, "POST", self.url, headers, jsonrpc.encode(message)) as got:
                status = got.status
        except UpstreamUnavailable as exc:
            raise McpError(f"service {self.namespace!r} is unreachable: {exc}") from exc
        if status >= 400:
            logger.warning("service %s refused a message: HTTP %d", self.namespace, status)

    def _headers(self, message: Message) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": _ACCEPT}
        if self.session_id is not None:
            headers["mcp-session-id"] = self.session_id
        params = jsonrpc.as_object(message.get("params"))
        modern = versions.request_version(params)
        method = message.get("method")
        if modern is not None and isinstance(method, str):
            headers["mcp-protocol-version"] = modern
            headers["mcp-method"] = method
            name_key = versions.NAME_FIELDS.get(method)
            name = params.get(name_key) if params is not None and name_key else None
            if isinstance(name, str):
                headers["mcp-name"] = encode_header_value(name)
                mirrored = self._param_headers.get(name) if method == "tools/call" else None
                arguments = jsonrpc.as_object(params.get("arguments")) if params else None
                if mirrored and arguments is not None:
                    headers.update(mcp_param_headers(mirrored, arguments))
        elif self.version is not None:
            headers["mcp-protocol-version"] = self.version
        return headers

    async def _exchange(self, message: Message, headers: dict[str, str]) -> None:
        as_gateway()  # what the answer sets off (a list refresh, say) is the gateway's doing
        request_id: RequestId = message["id"]
        session = self.session
        assert session is not None
        with anyio.CancelScope() as scope:
            self._exchanges[request_id] = scope
            try:
                end = await self._post_and_read(message, headers)
                if end is not None and self.session_id is not None:
                    await self._resume(request_id, end, headers.get("authorization"))
            except MessageTooLarge as exc:
                logger.error("service %s sent %s; its request failed", self.namespace, exc)
                error = {"code": exc.code, "message": f"service {self.namespace!r} sent {exc}"}
                session.fail(request_id, error)  # the caller hears now, not at its timeout
            except UpstreamUnavailable as exc:
                session.fail(request_id, _unavailable(f"service {self.namespace!r}: {exc}"))
            finally:
                del self._exchanges[request_id]
                self._listings.discard(request_id)
        # A stream that ended without the reply would leave the caller waiting for its timeout.
        session.fail(request_id, _unavailable(f"service {self.namespace!r} sent no reply"))

    async def _post_and_read(
        self, message: Message, headers: dict[str, str], again: bool = True
    ) -> StreamEnd | None:
        """POST a request and read its answer; where an SSE answer ended, to resume it from.

        A handshake-era session the service no longer knows (404: its process was replaced at
        the same URL) is initialized anew, once, and the request sent again on it: a 404 means
        the service did not run it.
        """
        session = self.session
        assert session is not None
        body = jsonrpc.encode(message)
        method = message.get("method")
        if method != "initialize" and self._reopening.locked():
            async with self._reopening:  # wait for the new session, then send on it
                headers = self._headers(message)
        sent_on = headers.get("mcp-session-id")
        async with opened(self.http, "POST", self.url, headers, body) as response:
            if method == "initialize":
                self.session_id = response.headers.get("mcp-session-id")
            gone = response.status == 404 and sent_on is not None and method != "initialize"
            if not (gone and again):
                return await self._answer(response, message)
        await self._reopen(sent_on)
        return await self._post_and_read(message, self._headers(message), again=False)

    async def _reopen(self, stale: str | None) -> None:
        """Initialize a new session in place of `stale`, unless another request already has."""
        session = self.session
        assert session is not None
        async with self._reopening:
            if self.session_id != stale:
                return
            logger.warning(
                "service %s: its session is gone (HTTP 404: the service was replaced at %s); "
                "initializing a new one",
                self.namespace,
                self.url,
            )
            self.session_id, self.version, self.last_event_id = None, None, None
            try:
                await session.handshake("handshake", REOPEN_TIMEOUT)
            except McpError as exc:
                raise UpstreamUnavailable(f"no new session: {exc.message}") from exc
            self.version = session.version
            if not self.following and self.session_id is not None:
                self.tg.start_soon(self.follow_standalone)

    async def _answer(self, response: aiohttp.ClientResponse, message: Message) -> StreamEnd | None:
        """Read the answer to `message` from `response`."""
        session = self.session
        assert session is not None
        kind = response.headers.get("content-type", "")
        if is_event_stream(response.headers):
            return await self._read_events(response, message["id"])
        if kind.startswith("application/json"):
            await self._read_json(response, message["id"])
        elif response.status != 202:
            error = _unavailable(f"service {self.namespace!r} answered HTTP {response.status}")
            session.fail(message["id"], error)
        return None

    async def _resume(
        self, request_id: RequestId, end: StreamEnd, authorization: str | None
    ) -> None:
        """Come back for the rest of a request's stream while the service owes the reply
        (with the request's own `authorization`)."""
        session = self.session
        assert session is not None
        after, retry = end.last_id, end.retry_ms
        while after is not None and session.waiting(request_id):
            session.paused(request_id)
            await anyio.sleep(RECONNECT_DELAY if retry is None else retry / 1000)
            headers = {"accept": sse.CONTENT_TYPE, "last-event-id": after}
            if authorization is not None:
                headers["authorization"] = authorization
            if self.session_id is not None:
                headers["mcp-session-id"] = self.session_id
            if self.version is not None:
                headers["mcp-protocol-version"] = self.version
            async with opened(self.http, "GET", self.url, headers) as response:
                if response.status != 200 or not is_event_stream(response.headers):
                    return
                more = await self._read_events(response, request_id)
            after = more.last_id or after
            retry = more.retry_ms if more.retry_ms is not None else retry

    async def _read_json(self, response: aiohttp.ClientResponse, request_id: RequestId) -> None:
        session = self.session
        assert session is not None
        data = bytearray()
        async for chunk in response.content.iter_any():
            data += chunk
            if len(data) > self.limit:
                error = {
                    "code": codes.MESSAGE_TOO_LARGE,
                    "message": f"reply over {self.limit} bytes",
                }
                session.fail(request_id, error)
                return
        await self._deliver(bytes(data), request_id, response.status)

    async def _read_events(
        self, response: aiohttp.ClientResponse, request_id: RequestId | None = None
    ) -> StreamEnd:
        """Deliver the events of the stream answering `request_id` (None: the standalone one);
        return where it ended, to resume it from.

        Raises:
            MessageTooLarge: an event outgrew the limit; the stream was abandoned there.
            UpstreamUnavailable: the stream broke.
        """
        end = StreamEnd()
        async with aclosing(read_events(event_response(response), self.limit)) as events:
            async for event in events:
                if event.id:
                    end.last_id = event.id
                    if request_id is None:
                        self.last_event_id = event.id
                if event.retry is not None:
                    end.retry_ms = event.retry
                if event.data:  # one without data primes resumption (2025-11-25): nothing to read
                    data = event.data.encode()
                    await self._deliver(data, None, response.status, request_id)
        return end

    async def _deliver(
        self,
        data: bytes,
        request_id: RequestId | None,
        status: int,
        stream_of: RequestId | None = None,
    ) -> None:
        session = self.session
        assert session is not None
        try:
            message = jsonrpc.decode(data)
        except McpError as exc:
            logger.warning("service %s sent a bad message (%s); ignored", self.namespace, exc)
            if request_id is not None:
                session.fail(request_id, _unavailable(f"HTTP {status} with an unreadable body"))
            return
        if "result" in message and message.get("id") in self._listings:
            self._learn_param_headers(jsonrpc.as_object(message["result"]) or {})
        await session.receive(message, stream_of)

    def _learn_param_headers(self, listing: dict[str, Any]) -> None:
        """Note which arguments each listed tool mirrors into `Mcp-Param-*` headers."""
        for tool in jsonrpc.objects_in(listing.get("tools")):
            name, schema = tool.get("name"), tool.get("inputSchema")
            if not isinstance(name, str):
                continue
            # A schema with a bad annotation has no headers: a client must not send them.
            valid = find_invalid_x_mcp_header(schema) is None
            mirrored = x_mcp_header_map(schema) if valid else {}
            if mirrored:
                self._param_headers[name] = mirrored
            else:
                self._param_headers.pop(name, None)

    async def follow_standalone(self) -> None:
        """Read the session's GET stream, where a handshake-era service sends on its own.

        A stream that drops is reopened after the last event read (`Last-Event-ID`), also when
        it carried an event over the limit: no request waits on that stream to be failed.
        """
        self.following = True
        try:
            await self._follow()
        finally:
            self.following = False

    async def _follow(self) -> None:
        while True:
            headers = {"accept": sse.CONTENT_TYPE}
            if self.session_id is not None:
                headers["mcp-session-id"] = self.session_id
            if self.version is not None:
                headers["mcp-protocol-version"] = self.version
            if self.last_event_id is not None:
                headers["last-event-id"] = self.last_event_id
            try:
                await self._own_token(headers)
                async with opened(self.http, "GET", self.url, headers) as response:
                    if response.status in (404, 405):
                        return  # no standalone stream offered, or the session is gone
                    if response.status == 200:
                        await self._read_events(response)
            except MessageTooLarge as exc:
                logger.error("service %s sent %s on its standalone stream", self.namespace, exc)
            except (UpstreamUnavailable, UpstreamCredentials) as exc:
                logger.info("service %s: standalone stream dropped (%s)", self.namespace, exc)
            await anyio.sleep(RECONNECT_DELAY)

    async def _own_token(self, headers: dict[str, str]) -> None:
        """Add the gateway's own token, when the service takes tokens.

        Raises:
            UpstreamCredentials: it could not be had.
        """
        if self.tokens is not None:
            headers["authorization"] = await self.tokens.authorization(None)

    async def end_session(self) -> None:
        """Tell a handshake-era service its session is over (best effort)."""
        if self.session_id is None:
            return
        headers = {"mcp-session-id": self.session_id}
        if self.version is not None:
            headers["mcp-protocol-version"] = self.version
        try:
            await self._own_token(headers)
            async with opened(self.http, "DELETE", self.url, headers):
                pass
        except (UpstreamUnavailable, UpstreamCredentials):
            logger.debug("service %s: session end not delivered", self.namespace)


@dataclass(slots=True)
class StreamEnd:
    """Where an SSE stream ended: its last event id and the `retry` it asked for, if any."""

    last_id: str | None = None
    retry_ms: int | None = None


def _unavailable(message: str) -> dict[str, Any]:
    return {"code": codes.UPSTREAM_UNAVAILABLE, "message": message}
