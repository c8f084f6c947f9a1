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
import time
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Final

import anyio
import orjson
from anyio.abc import SocketStream, TaskStatus

from micro_mcp import __version__
from micro_mcp.gateway.core.cache import ReadCache
from micro_mcp.gateway.services.mesh import Mesh, Service
from micro_mcp.policy.model import Policy
from micro_mcp.registry import profiles
from micro_mcp.telemetry.metrics import SAMPLE_EVERY, Metrics
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.telemetry.status import KINDS, GatewayStatus, ProfileStatus, ServiceStatus

logger = logging.getLogger(__name__)

METRICS_PATH: Final = "/metrics"
STATUS_PATH: Final = "/admin/status"
PAGE_PATH: Final = "/admin"
PATHS: Final = frozenset({METRICS_PATH, STATUS_PATH, PAGE_PATH})
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


def gateway_status(
    mesh: Mesh, recorder: Recorder, transport: str, cache: ReadCache | None = None
) -> GatewayStatus:
    """The gateway and its services now (with the cache of reads, when there is one)."""
    now = time.time()
    metrics = recorder.metrics
    services = tuple(_service_status(s, metrics) for s in list(mesh.services.values()))
    return GatewayStatus(
        version=__version__,
        transport=transport,
        started_at=recorder.started_at,
        uptime_seconds=round(now - recorder.started_at, 3),
        clients=len(mesh.clients),
        catalog={kind: mesh.catalog.count(kind) for kind in KINDS},
        services=services,
        profiles=_profiles(mesh),
        cache=None if cache is None else asdict(cache.stats()),
    )


PROFILE_PATH: Final = "/mcp/p/"
"""Where a profile is served over HTTP, before its name."""


def _profiles(mesh: Mesh) -> tuple[ProfileStatus, ...]:
    if not mesh.config.profiles:
        return ()
    catalog = mesh.catalog
    tags = {ns: service.spec.tags for ns, service in mesh.services.items()}
    everything = Policy()
    return tuple(
        ProfileStatus(
            name=name,
            description=profile.description,
            endpoint=PROFILE_PATH + name,
            catalog={
                kind: len(catalog.visible(kind, "", everything, None, profile)) for kind in KINDS
            },
        )
        for name, profile in profiles.resolve(mesh.config.profiles, tags).items()
    )


def _service_status(service: Service, metrics: Metrics) -> ServiceStatus:
    session, spec = service.session, service.spec
    ready = service.state == "ready" and session is not None
    calls, errors = metrics.tallies.get(service.namespace, (0, 0))
    calls_rate, errors_rate = metrics.rates(service.namespace)
    return ServiceStatus(
        namespace=service.namespace,
        state=service.state,
        error=service.error,
        transport="stdio" if spec.url is None else ("sse" if spec.type == "sse" else "http"),
        era=session.era.value if session is not None else None,
        uptime_seconds=round(time.monotonic() - session.opened_at, 3)
        if ready and session is not None
        else None,
        restarts=service.restarts,
        in_flight=int(service.slots.borrowed_tokens),
        queued=service.queued,
        max_concurrent=spec.max_concurrent,
        circuit=service.breaker.state,
        catalog={kind: len(service.catalog.items(kind)) for kind in KINDS},
        calls=calls,
        errors=errors,
        calls_per_second=round(calls_rate, 3),
        errors_per_second=round(errors_rate, 3),
    )


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
    ) -> None:
        self.mesh = mesh
        self.cache = cache
        self.recorder = recorder
        self.transport = transport
        self._token = operator_token.encode() if operator_token is not None else None
        self._loopback = loopback
        recorder.metrics.watch(self.status)

    def status(self) -> GatewayStatus:
        """The gateway and its services now."""
        return gateway_status(self.mesh, self.recorder, self.transport, self.cache)

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


def _text(status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> Answer:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), *(extra or [])]
    return Answer(status, message.encode(), headers)


async def observe(
    mesh: Mesh,
    recorder: Recorder,
    transport: str,
    metrics_port: int | None,
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
        path = target.split("?", 1)[0].rstrip("/") or "/"
        if b"\r\n\r\n" not in head:
            answer = _text(400, "bad request")
        elif headers.get("host") not in hosts:
            answer = _text(421, "misdirected request: Host not allowed")
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


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    421: "Misdirected Request",
}
