"""The gateway over Streamable HTTP: one raw ASGI application at `/mcp`, both protocol eras.

Raw ASGI rather than a framework's request objects: the hot path is parse the body once, run
the dispatcher, write the reply, and nothing more. The checks run in a fixed order, each with
its own status: Host (421), Origin (403), bearer token (401) in front of this application (see
`guards`), then here method (405), content type (415), Accept (406), body size (413, raised by
its guard when the body is read), JSON (400).

Handshake era (2025-03-26 .. 2025-11-25): `initialize` opens a session named by a random
`Mcp-Session-Id` and bound to the principal; replies come as JSON or, when anything precedes
them (progress, log lines), as an SSE stream; GET follows the standalone stream; DELETE ends
the session; every SSE event has an id, and `Last-Event-ID` resumes a stream.

2026-07-28: each request stands alone. Its `_meta` envelope and the `Mcp-Method` /
`Mcp-Name` / `MCP-Protocol-Version` headers are checked (the official SDK's ladder, so the
rules are the spec's); errors map to HTTP statuses (404 unknown method, 400 otherwise); closing
the response cancels the request.
"""

from __future__ import annotations

import logging
from typing import Final
from urllib.parse import parse_qsl

import anyio
import orjson
from anyio.abc import TaskGroup
from starlette.datastructures import Headers

from micro_mcp import codes
from micro_mcp.config.model import HttpSpec
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.fronts import guards, ladder, legacy_sse
from micro_mcp.gateway.fronts.asgi import (
    JSON_HEADERS,
    App,
    Receive,
    Scope,
    Send,
    UntilDisconnect,
    fail,
    read_body,
    read_message,
    reply,
)
from micro_mcp.gateway.fronts.front import Front
from micro_mcp.gateway.fronts.http_sessions import HttpSession, Refusal, SessionTable, refuse
from micro_mcp.gateway.fronts.legacy_sse import LegacySse
from micro_mcp.gateway.fronts.responses import ModernAnswer, stream_out
from micro_mcp.gateway.operator import admin, snapshot
from micro_mcp.gateway.operator.admin import Admin
from micro_mcp.gateway.operator.console import Console
from micro_mcp.identity import metadata
from micro_mcp.identity.authority import Authority
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.telemetry import tracing
from micro_mcp.transport import sse

logger = logging.getLogger(__name__)

ENDPOINT: Final = "/mcp"
PROFILE_PREFIX: Final = snapshot.PROFILE_PATH
"""A profile is served at this prefix plus its name (`/mcp/p/NAME`), like `/mcp`."""
MCP_PATHS: Final = frozenset({ENDPOINT, legacy_sse.STREAM_PATH, legacy_sse.MESSAGES_PATH})
"""The paths that speak MCP, which need a client's bearer token."""
METADATA_HEADERS: Final = [*JSON_HEADERS, (b"cache-control", b"max-age=300")]
"""The RFC 9728 document is public and changes only with the config."""
SWEEP_INTERVAL: Final = 60.0
"""Seconds between sweeps for idle sessions."""
DRAIN_CHECK_INTERVAL: Final = 0.1
"""Seconds between looks, while draining, for sessions whose last request has finished."""


class HttpFront:
    """The ASGI application serving the dispatcher's MCP over Streamable HTTP."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        authority: Authority,
        spec: HttpSpec,
        host: str,
        port: int,
        tg: TaskGroup,
    ) -> None:
        self.dispatcher = dispatcher
        self.resource_metadata = (
            orjson.dumps(authority.metadata) if authority.metadata is not None else None
        )
        self.mesh = dispatcher.mesh
        self.front = Front(dispatcher)
        self.spec = spec
        # Without tokens every caller is the one anonymous principal: a share of its own
        # would only lower `maxSessions` for everyone.
        open_gateway = authority.open_principal is not None
        per_principal = spec.max_sessions if open_gateway else spec.max_sessions_per_principal
        self.sessions = SessionTable(spec.max_sessions, spec.session_idle_seconds, per_principal)
        self.tasks = tg
        self.legacy = LegacySse(dispatcher, self.sessions, tg)
        self._exchanges: set[ClientSession] = set()
        """The 2026-07-28 requests being answered, one client each."""
        token = dispatcher.mesh.config.telemetry.operator_token
        loopback = host in guards.LOOPBACK_HOSTS
        self.admin = Admin(
            self.mesh,
            dispatcher.telemetry,
            transport="http",
            operator_token=token,
            loopback=loopback,
            cache=dispatcher.cache,
            console=Console(dispatcher),
        )
        self.app: App = guards.guarded(
            self,
            hosts=guards.allowed_hosts(host, port, spec.allowed_hosts),
            origins=spec.allowed_origins,
            authority=authority,
            token_paths=MCP_PATHS,
            max_body_bytes=spec.max_body_bytes,
            refused=dispatcher.trail.refusal,
            token_prefixes=(PROFILE_PREFIX,) if dispatcher.profiles is not None else (),
        )
        """What the server runs: this front behind its guards."""

    async def sweep_idle(self) -> None:
        """Close idle sessions now and then, for as long as the gateway runs."""
        while True:
            await anyio.sleep(SWEEP_INTERVAL)
            for session in self.sessions.sweep():
                self.front.close(session.client)

    def revoke(self, principals: frozenset[str]) -> None:
        """End the sessions of principals whose credential was revoked (a config reload):
        their streams close and their requests in flight are cancelled."""
        for session in self.sessions.revoke(principals):
            self.front.close(session.client)

    async def drain(self) -> None:
        """On shutdown, end what would keep a connection open with no request behind it, so the
        server waits only for requests in flight: 2026-07-28 listens at once, and a session's
        standalone stream (the 2024-11-05 transport's replies among it) once its requests are
        answered. Returns when every session's stream has ended."""
        for client in self._exchanges:
            for listen_id in list(client.listens):
                scope = client.in_flight.get(listen_id)
                if scope is not None:
                    scope.cancel()
        # Polled: a request ends in the dispatcher, which tells no one; this runs once, at exit.
        while self.sessions.end_idle_streams():  # noqa: ASYNC110
            await anyio.sleep(DRAIN_CHECK_INTERVAL)

    # --- routing (behind the guards) ---------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].rstrip("/") or "/"
        method = scope["method"]
        profile = None
        if (
            path.startswith(PROFILE_PREFIX)
            and (profiles := self.dispatcher.profiles) is not None
            and profiles.admits(guards.principal_of(scope), path[len(PROFILE_PREFIX) :])
        ):
            path, profile = ENDPOINT, path[len(PROFILE_PREFIX) :]
        if path == ENDPOINT:
            # HTTP excludes whitespace around a field value from the value (RFC 9110 5.5);
            # uvicorn's httptools parser keeps it, so `Mcp-Name:  x ` would not match `x`.
            headers = Headers(raw=[(k, v.strip(b" \t")) for k, v in scope["headers"]])
            principal = guards.principal_of(scope)
            if method == "POST":
                await self._post(scope, receive, send, headers, principal, profile)
            elif method == "GET":
                await self._get(scope, receive, send, headers, principal, profile)
            elif method == "DELETE":
                await self._delete(send, headers, principal, profile)
            else:
                allow = [(b"allow", b"GET, POST, DELETE")]
                await fail(send, 405, codes.INVALID_REQUEST, "Method not allowed", allow)
        elif path in MCP_PATHS:
            await self.legacy.serve(scope, receive, send, guards.principal_of(scope))
        elif self.resource_metadata is not None and metadata.is_metadata_path(path):
            await reply(send, 200, self.resource_metadata, METADATA_HEADERS)
        elif path == "/healthz":
            await reply(send, 200, orjson.dumps({"status": "ok"}), JSON_HEADERS)
        elif path == "/readyz":
            await self._readyz(send)
        elif path in admin.ACTIONS:  # the operator's console: the same token, and a body
            request = admin.ActionRequest(
                method,
                path,
                guards.header(scope, b"authorization"),
                host=guards.header(scope, b"host"),
                origin=guards.header(scope, b"origin"),
                content_type=guards.header(scope, b"content-type"),
                query=dict(parse_qsl(scope["query_string"].decode("latin-1"))),
                body=await read_body(receive) if method == "POST" else b"",
            )
            answer = await self.admin.act(request)
            await reply(send, answer.status, answer.body, answer.headers)
        elif path in admin.PATHS:  # the operator's view has a token of its own
            auth, accept = guards.header(scope, b"authorization"), guards.header(scope, b"accept")
            answer = self.admin.answer(method, path, auth, accept)
            await reply(send, answer.status, answer.body, answer.headers)
        else:
            await reply(send, 404, b"not found", [(b"content-type", b"text/plain")])

    async def _readyz(self, send: Send) -> None:
        # Ready once the first start is over, whatever state single services are in: taking the
        # gateway out of rotation for one failed service would take every other one down too.
        states = {s.namespace: s.health for s in self.mesh.services.values()}
        ready = self.mesh.started.is_set()
        degraded = any(state not in ("ready", "disabled") for state in states.values())
        body = orjson.dumps({"ready": ready, "degraded": degraded, "services": states})
        await reply(send, 200 if ready else 503, body, JSON_HEADERS)

    # --- POST -------------------------------------------------------------------------------

    async def _post(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        principal: Principal,
        profile: str | None = None,
    ) -> None:
        if not headers.get("content-type", "").lower().startswith("application/json"):
            await fail(send, 415, codes.INVALID_REQUEST, "Content-Type must be application/json")
            return
        accept = headers.get("accept", "*/*")
        if not any(kind in accept for kind in ("application/json", "text/event-stream", "*/*")):
            await fail(send, 406, codes.INVALID_REQUEST, "Accept application/json or SSE")
            return
        message = await read_message(receive, send)
        if message is None:
            return
        tracing.adopt_header(message, headers.get("traceparent"), headers.get("tracestate"))
        params = jsonrpc.as_object(message.get("params"))
        # 2026-07-28 requests carry their version in `_meta` and in a header, and no session.
        modern = (
            versions.request_version(params) is not None
            or headers.get("mcp-protocol-version") in versions.MODERN_VERSIONS
        )
        if "method" in message and modern:
            await self._post_modern(scope, receive, send, headers, principal, message, profile)
            return
        session_id = headers.get("mcp-session-id")
        if message.get("method") == "initialize" and session_id is None:
            created = self.sessions.create(principal)
            if isinstance(created, Refusal):
                limit = self.sessions.per_principal
                await refuse(send, created, limit, message.get("id"))
                return
            session = created
            session.client.profile = profile
            self.front.open(session.client)
        else:
            found = await self._session(send, headers, principal, profile)
            if found is None:
                return
            session = found
        answered = False

        async def run(request: Message) -> None:
            nonlocal answered
            answered = True
            await self._post_request(scope, receive, send, session, request)

        await self.front.take(session.client, message, run)
        if not answered:  # a notification, or an answer to a request relayed from a service
            await reply(send, 202, b"", [])

    async def _session(
        self, send: Send, headers: Headers, principal: Principal, profile: str | None = None
    ) -> HttpSession | None:
        """The request's session, or None after answering with the right error."""
        session_id = headers.get("mcp-session-id")
        if session_id is None:
            await fail(send, 400, codes.INVALID_REQUEST, "Bad request: Mcp-Session-Id missing")
            return None
        version = headers.get("mcp-protocol-version")
        if version is not None and version not in versions.HANDSHAKE_VERSIONS:
            await fail(send, 400, codes.INVALID_REQUEST, f"Unsupported protocol {version!r}")
            return None
        session = self.sessions.get(session_id, principal)
        if session is None or session.client.profile != profile:  # a session has one endpoint
            await fail(send, 404, codes.INVALID_REQUEST, "Session not found")
            return None
        # This request's check of the token is the latest word on the caller: an OAuth
        # token's groups and scopes, or a policy changed by a config reload, apply from now on.
        session.client.principal = principal
        return session

    async def _post_request(
        self, scope: Scope, receive: Receive, send: Send, session: HttpSession, message: Message
    ) -> None:
        # The request runs in the gateway's task group, not this connection's: in the
        # handshake era a dropped connection is not a cancellation, and the reply waits in
        # the stream for the client to resume it.
        stream = session.open_response(message["id"])
        self.tasks.start_soon(self.dispatcher.handle_request, session.client, message)
        extra = [(b"mcp-session-id", session.id.encode())]
        version = session.client.version
        primed = version is not None and version >= versions.PRIMING_SINCE
        # A client that takes SSE gets it, as from the SDK's own server: an event stream it can
        # resume, even when the reply is all there is. One that takes only JSON gets JSON.
        prefer_sse = sse.CONTENT_TYPE in (guards.header(scope, b"accept") or "")
        answer = await stream_out(
            scope, receive, send, stream, extra, modern=False, primed=primed, prefer_sse=prefer_sse
        )
        if answer != "gone":
            # The answer was written whole: nobody needs to resume it, and keeping it would
            # only hold memory (a large result, times the streams a session keeps).
            session.forget(message["id"])

    async def _post_modern(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        principal: Principal,
        message: Message,
        profile: str | None = None,
    ) -> None:
        rejection = ladder.rejection(headers, message, self.mesh.catalog)
        if rejection is not None:
            await ladder.refuse(send, message, rejection)
            return
        if not jsonrpc.is_request(message):
            await reply(send, 202, b"", [])  # 2026-07-28 defines no notification to act on
            return
        # The request runs in this task: the client hanging up cancels it (and the service's
        # call), and the reply, when nothing precedes it, is written without a stream.
        answer = ModernAnswer(send, message["id"], self.tasks)
        exchange = ClientSession(answer.deliver, principal, profile=profile)
        with self.front.connected(exchange) as client:
            self._exchanges.add(client)
            try:
                async with UntilDisconnect(scope, receive):
                    await self.dispatcher.handle_request(client, message)
                await answer.finish()
            finally:
                self._exchanges.discard(client)

    # --- GET and DELETE ---------------------------------------------------------------------

    async def _get(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        principal: Principal,
        profile: str | None = None,
    ) -> None:
        if sse.CONTENT_TYPE not in headers.get("accept", ""):
            await fail(send, 406, codes.INVALID_REQUEST, "GET needs Accept: text/event-stream")
            return
        if "mcp-session-id" not in headers:
            await fail(send, 405, codes.INVALID_REQUEST, "No session: nothing to stream")
            return
        session = await self._session(send, headers, principal, profile)
        if session is None:
            return
        stream, after = session.standalone, 0
        last = headers.get("last-event-id")
        split = sse.split_event_id(last) if last is not None else None
        if split is not None and (named := session.stream_named(split[0])) is not None:
            stream, after = named, split[1]
        if stream is session.standalone:
            if session.listening:
                await fail(send, 409, codes.INVALID_REQUEST, "This session's stream is open")
                return
            session.listening = True
        try:
            extra = [(b"mcp-session-id", session.id.encode())]
            await stream_out(
                scope, receive, send, stream, extra, modern=False, after=after, sse_only=True
            )
        finally:
            if stream is session.standalone:
                session.listening = False

    async def _delete(
        self, send: Send, headers: Headers, principal: Principal, profile: str | None = None
    ) -> None:
        session = await self._session(send, headers, principal, profile)
        if session is None:
            return
        self.sessions.remove(session.id)
        self.front.close(session.client)
        await reply(send, 200, b"", [])
