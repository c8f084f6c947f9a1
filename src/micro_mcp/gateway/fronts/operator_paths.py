"""The operator's paths on the HTTP front, beside `/mcp`: `/healthz`, `/readyz`, the
operator's view (`/metrics`, `/admin/status`, `/admin`, with a token of its own) and its
console's actions (the same token, and a JSON body)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson

from micro_mcp.gateway.fronts import guards
from micro_mcp.gateway.fronts.asgi import JSON_HEADERS, Receive, Scope, Send, read_body, reply
from micro_mcp.gateway.operator import admin
from micro_mcp.gateway.operator.admin import Admin
from micro_mcp.gateway.services.mesh import Mesh


async def serve(
    operator: Admin, mesh: Mesh, scope: Scope, receive: Receive, send: Send, path: str
) -> bool:
    """Answer `path` if it is one of the operator's; False (nothing sent) if it is not."""
    method = scope["method"]
    if path == "/healthz":
        await reply(send, 200, orjson.dumps({"status": "ok"}), JSON_HEADERS)
    elif path == "/readyz":
        await _readyz(mesh, send)
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
        answer = await operator.act(request)
        await reply(send, answer.status, answer.body, answer.headers)
    elif path in admin.PATHS:  # the operator's view has a token of its own
        auth, accept = guards.header(scope, b"authorization"), guards.header(scope, b"accept")
        answer = operator.answer(method, path, auth, accept)
        await reply(send, answer.status, answer.body, answer.headers)
    else:
        return False
    return True


async def _readyz(mesh: Mesh, send: Send) -> None:
    # Ready once the first start is over, whatever state single services are in: taking the
    # gateway out of rotation for one failed service would take every other one down too.
    states = {s.namespace: s.health for s in mesh.services.values()}
    ready = mesh.started.is_set()
    degraded = any(state not in ("ready", "disabled") for state in states.values())
    body = orjson.dumps({"ready": ready, "degraded": degraded, "services": states})
    await reply(send, 200 if ready else 503, body, JSON_HEADERS)
