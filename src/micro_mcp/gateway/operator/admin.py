"""The operator's view: `/metrics`, `/admin/status` (JSON) and `/admin` (a page that polls it).

The HTTP front serves these beside `/mcp`. With the stdio transport they get a small listener
of their own on loopback (`--metrics-port`), so Prometheus and `micro-mcp status` reach a
gateway whose MCP side is a pipe.

Who may look: with `telemetry.operatorToken` set, only a bearer of that token (a token of its
own, not a client's: reading the mesh's state is not calling its tools). Without one, only a
gateway listening on loopback answers; elsewhere the operator must configure a token. `/admin`
itself holds no data and is always served; its script sends the token it finds after `#token=`
in the page's address (a fragment never reaches the server or its logs).
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from importlib import resources
from typing import Final
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import orjson
from anyio.abc import SocketStream, TaskStatus

from micro_mcp.errors import PinStoreError
from micro_mcp.gateway.core.cache import ReadCache
from micro_mcp.gateway.operator import snapshot
from micro_mcp.gateway.operator.console import Console
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.telemetry.metrics import SAMPLE_EVERY
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.telemetry.status import GatewayStatus

logger = logging.getLogger(__name__)

METRICS_PATH: Final = "/metrics"
STATUS_PATH: Final = "/admin/status"
PAGE_PATH: Final = "/admin"
CATALOG_PATH: Final = "/admin/catalog"
AUDIT_PATH: Final = "/admin/audit"
CALL_PATH: Final = "/admin/call"
RESTART_PATH: Final = "/admin/restart"
DISABLE_PATH: Final = "/admin/disable"
APPROVE_PATH: Final = "/admin/approve"
"""`POST {"name": "SERVICE[.NAME]"}` (or `{"all": true}`): approve what pinning holds back."""
ACTIONS: Final = frozenset(
    {CATALOG_PATH, AUDIT_PATH, CALL_PATH, RESTART_PATH, DISABLE_PATH, APPROVE_PATH}
)
"""The paths of the operator's console (`Admin.act`): reading its catalog and audit tail,
calling a tool, restarting or disabling a service, approving held definitions."""
POSTS: Final = frozenset({CALL_PATH, RESTART_PATH, DISABLE_PATH, APPROVE_PATH})
"""Actions that change something: POST with a JSON body only, so a page on another origin
cannot send one without a CORS preflight, which the gateway never grants."""
PATHS: Final = frozenset({METRICS_PATH, STATUS_PATH, PAGE_PATH}) | ACTIONS
MAX_ACTION_BYTES: Final = 1024 * 1024
"""Largest body an action takes (a playground call's arguments)."""
PAGE: Final = resources.files("micro_mcp.gateway.operator").joinpath("admin.html").read_bytes()
"""The page, with its script and style inline: it loads nothing from anywhere else."""
PAGE_HEADERS: Final = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        b"connect-src 'self'; frame-ancestors 'none'",
    ),
    (b"referrer-policy", b"no-referrer"),
]
JSON_HEADERS: Final = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]
HEAD_LIMIT: Final = 16 * 1024
"""Largest request head the loopback listener reads."""
READ_TIMEOUT: Final = 10.0
"""Seconds the loopback listener waits for a request head."""


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP response to one admin request."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


class Admin:
    """Answers the admin paths for one gateway."""

    def __init__(
        self,
        mesh: Mesh,
        recorder: Recorder,
        *,
        transport: str,
        operator_token: str | None,
        loopback: bool,
        cache: ReadCache | None = None,
        console: Console | None = None,
    ) -> None:
        self.mesh = mesh
        self.cache = cache
        self.recorder = recorder
        self.transport = transport
        self.console = console
        self._token = operator_token.encode() if operator_token is not None else None
        self._loopback = loopback
        recorder.metrics.watch(self.status)

    def status(self) -> GatewayStatus:
        """The gateway and its services now."""
        return snapshot.gateway_status(self.mesh, self.recorder, self.transport, self.cache)

    def answer(
        self, method: str, path: str, authorization: str | None, accept: str | None
    ) -> Answer:
        """The response to `method path`; `path` must be one of `PATHS`."""
        if method not in ("GET", "HEAD"):
            return _text(405, "only GET", [(b"allow", b"GET, HEAD")])
        if path == PAGE_PATH:
            return Answer(200, PAGE, PAGE_HEADERS)
        refusal = self._refusal(authorization)
        if refusal is not None:
            return refusal
        if path == STATUS_PATH:
            return Answer(200, orjson.dumps(self.status().to_json()), JSON_HEADERS)
        body, content_type = self.recorder.metrics.render(accept)
        return Answer(200, body, [(b"content-type", content_type.encode())])

    async def act(self, request: ActionRequest) -> Answer:
        """The response to one of the console's `ACTIONS`."""
        expected = "POST" if request.path in POSTS else "GET"
        if request.method != expected:
            return _text(405, f"only {expected}", [(b"allow", expected.encode())])
        refusal = self._refusal(request.authorization)
        if refusal is not None:
            return refusal
        if expected == "POST":
            if not (request.content_type or "").startswith("application/json"):
                return _text(415, "send the body as application/json")
            if request.origin is not None and request.origin.partition("://")[2] != request.host:
                return _text(403, "an action must come from the admin page's own origin")
        if request.path == APPROVE_PATH:
            return await self._approve(request.body)
        if self.console is None:
            return _text(404, "not served here")
        if request.path == CATALOG_PATH:
            return _json(200, self.console.catalog())
        if request.path == AUDIT_PATH:
            after = request.query.get("after", "0")
            return _json(200, self.console.audit(int(after) if after.isdigit() else 0))
        if request.path == CALL_PATH:
            status, reply = await self.console.call(request.body)
            return _json(status, reply)
        return await self._service_action(request)

    async def _service_action(self, request: ActionRequest) -> Answer:
        try:
            target: object = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            target = None
        match target:
            case {"service": str() as namespace} if namespace in self.mesh.services:
                pass
            case _:
                return _text(404, 'send {"service": NAMESPACE} naming a configured service')
        disable = request.path == DISABLE_PATH
        logger.warning(
            "the operator %s service %s", "disables" if disable else "restarts", namespace
        )
        await self.mesh.restart(namespace, disable=disable)
        return _json(200, {"service": namespace, "state": self.mesh.services[namespace].state})

    async def _approve(self, body: bytes) -> Answer:
        """Approve the held definitions `body` names in the pin store, then read it again."""
        try:
            wanted: object = orjson.loads(body)
        except orjson.JSONDecodeError:
            wanted = None
        match wanted:
            case {"all": True}:
                namespace, dot, item, everything = "", "", "", True
            case {"name": str() as name} if name:
                (namespace, dot, item), everything = name.partition("."), False
            case _:
                return _text(400, 'send {"name": "SERVICE[.NAME]"} or {"all": true}')
        keys = [
            hold.pin.key
            for held in self.mesh.pinning.held.values()
            for hold in held
            if everything
            or (hold.pin.namespace == namespace and (not dot or hold.pin.name == item))
        ]
        try:
            done = await anyio.to_thread.run_sync(self.mesh.pinning.store.approve, keys)
        except PinStoreError as exc:
            logger.error("pinning: %s", exc)
            return _text(500, "the pin store cannot be written; the gateway's log says why")
        await self.mesh.reload_pins()
        approved = [f"{new.kind[:-1]} {new.namespace}.{new.name}" for _, new in done]
        logger.warning("the operator approves %s", ", ".join(approved) or "nothing")
        return _json(200, {"approved": approved})

    def _refusal(self, authorization: str | None) -> Answer | None:
        if self._token is None:
            if self._loopback:
                return None
            return _text(403, "set telemetry.operatorToken to see this off loopback")
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self._token):
            return None
        challenge = [(b"www-authenticate", b'Bearer realm="micro-mcp admin"')]
        return _text(401, "the operator token is required", challenge)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What an action needs of its HTTP request."""

    method: str
    path: str
    authorization: str | None
    host: str | None = None
    origin: str | None = None
    content_type: str | None = None
    query: dict[str, str] = field(default_factory=dict[str, str])
    body: bytes = b""


def _json(status: int, document: object) -> Answer:
    return Answer(status, orjson.dumps(document), JSON_HEADERS)


def _text(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *(extra or [])]
    return Answer(status, message.encode(), headers)


async def observe(
    mesh: Mesh,
    recorder: Recorder,
    transport: str,
    metrics_port: int | None,
    console: Console | None = None,
    *,
    cache: ReadCache | None = None,
    task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Sample call rates for as long as the gateway runs; with `metrics_port`, serve the admin
    paths on 127.0.0.1 at that port (for a gateway whose MCP side is stdio)."""
    operator_token = mesh.config.telemetry.operator_token
    admin = Admin(
        mesh,
        recorder,
        transport=transport,
        operator_token=operator_token,
        loopback=True,
        cache=cache,
        console=console,
    )
    async with anyio.create_task_group() as tg:
        if metrics_port is not None:
            listener = await anyio.create_tcp_listener(
                local_host="127.0.0.1", local_port=metrics_port
            )
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            logger.info("serving metrics on http://127.0.0.1:%d/metrics (and /admin)", port)
            hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})

            async def serve_one(stream: SocketStream) -> None:
                await _serve_one(admin, hosts, stream)

            tg.start_soon(listener.serve, serve_one)
        task_status.started()
        while True:
            await anyio.sleep(SAMPLE_EVERY)
            recorder.metrics.sample()


async def _serve_one(admin: Admin, hosts: frozenset[str], stream: SocketStream) -> None:
    """One request on one connection of the loopback listener, then close."""
    async with stream:
        head = b""
        with anyio.move_on_after(READ_TIMEOUT):
            try:
                while b"\r\n\r\n" not in head and len(head) <= HEAD_LIMIT:
                    head += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                return
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, _, rest = lines[0].partition(" ")
        target = rest.rpartition(" ")[0] or rest
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:])
        }
        path, _, query = target.partition("?")
        path = path.rstrip("/") or "/"
        if b"\r\n\r\n" not in head:
            answer = _text(400, "bad request")
        elif headers.get("host") not in hosts:
            answer = _text(421, "misdirected request: Host not allowed")
        elif path in ACTIONS:
            body = await _body(stream, head.split(b"\r\n\r\n", 1)[1], headers)
            request = ActionRequest(
                method,
                path,
                headers.get("authorization"),
                host=headers.get("host"),
                origin=headers.get("origin"),
                content_type=headers.get("content-type"),
                query=dict(parse_qsl(query)),
                body=body if body is not None else b"",
            )
            answer = _text(413, "body too large") if body is None else await admin.act(request)
        elif path not in PATHS:
            answer = _text(404, "not found")
        else:
            answer = admin.answer(method, path, headers.get("authorization"), headers.get("accept"))
        status_line = f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'OK')}\r\n"
        header_lines = b"".join(name + b": " + value + b"\r\n" for name, value in answer.headers)
        length = f"content-length: {len(answer.body)}\r\nconnection: close\r\n\r\n".encode()
        body = b"" if method == "HEAD" else answer.body
        try:
            await stream.send(status_line.encode() + header_lines + length + body)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return


async def _body(stream: SocketStream, start: bytes, headers: dict[str, str]) -> bytes | None:
    """The request's body (its `content-length` bytes), or None when over the limit."""
    length = headers.get("content-length", "0")
    size = int(length) if length.isdigit() else 0
    if size > MAX_ACTION_BYTES:
        return None
    body = start
    with anyio.move_on_after(READ_TIMEOUT):
        try:
            while len(body) < size:
                body += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return body[:size]


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
}
