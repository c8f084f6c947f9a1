"""The HTTP front's guards, driven as plain ASGI calls: no server, no sockets."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from micro_mcp import codes
from micro_mcp.gateway.fronts import guards
from micro_mcp.gateway.fronts.asgi import Receive, Scope, Send, read_body, reply
from micro_mcp.policy.engine import Authenticator
from micro_mcp.policy.model import Policy, Principal

pytestmark = pytest.mark.anyio

TOKEN = "unit-test-token-0123456789"
ALICE = Principal("alice", Policy())
LIMIT = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """The guarded application: answers 200 with the principal's name and the body's size."""
    who = scope[guards.PRINCIPAL].name if guards.PRINCIPAL in scope else None
    body = await read_body(receive) if scope["method"] == "POST" else b""
    await reply(send, 200, orjson.dumps({"who": who, "size": len(body)}), [])


APP = guards.guarded(
    echo,
    hosts=guards.allowed_hosts("127.0.0.1", 8765, ()),
    origins=("https://app.example.com",),
    authenticator=Authenticator({"alice": (TOKEN, ALICE)}, None),
    token_paths=frozenset({"/mcp"}),
    max_body_bytes=LIMIT,
)


async def call(
    path: str, headers: dict[str, str], body: list[bytes] | None = None
) -> tuple[int, dict[str, str], Any]:
    """Run one request through the guarded app; return status, headers and the JSON body."""
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope: Scope = {
        "type": "http",
        "method": "GET" if body is None else "POST",
        "path": path,
        "headers": raw,
    }
    chunks = list(body or [b""])
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await APP(scope, receive, send)
    start, content = sent[0], sent[1]
    answer = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, orjson.loads(content["body"])


HOST = {"Host": "127.0.0.1:8765"}
AUTH = {**HOST, "Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize(
    ("path", "headers", "status", "code"),
    [
        ("/healthz", {"Host": "evil.example"}, 421, codes.INVALID_REQUEST),
        ("/mcp", {"Host": "evil.example:8765", "Origin": "https://evil.example"}, 421, None),
        ("/mcp", {}, 421, None),  # no Host at all
        ("/readyz", {**HOST, "Origin": "https://evil.example"}, 403, codes.INVALID_REQUEST),
        ("/mcp", {**HOST, "Origin": "https://evil.example"}, 403, None),  # before the token
        ("/mcp", HOST, 401, codes.UNAUTHENTICATED),
        ("/mcp/", {**HOST, "Authorization": "Bearer wrong"}, 401, codes.UNAUTHENTICATED),
        ("/mcp", {**HOST, "Authorization": f"Basic {TOKEN}"}, 401, codes.UNAUTHENTICATED),
        ("/healthz", HOST, 200, None),  # no token needed off the MCP paths
        ("/healthz", {"Host": "localhost", "Origin": "http://localhost:5173"}, 200, None),
        ("/mcp", {**AUTH, "Origin": "https://app.example.com"}, 200, None),
    ],
)
async def test_each_guard_answers_with_its_own_status_in_order(
    path: str, headers: dict[str, str], status: int, code: int | None
) -> None:
    got, answer, body = await call(path, headers)
    assert got == status
    if code is not None:
        assert body["error"]["code"] == code
    if status == 401:
        assert answer["www-authenticate"].startswith("Bearer")


async def test_the_token_guard_leaves_the_principal_for_the_application() -> None:
    assert (await call("/mcp", AUTH))[2] == {"who": "alice", "size": 0}
    assert (await call("/healthz", AUTH))[2] == {"who": None, "size": 0}


@pytest.mark.parametrize(
    ("declared", "chunks", "status"),
    [
        (None, [b"x" * LIMIT], 200),
        (None, [b"x" * 600, b"x" * 424], 200),
        (None, [b"x" * 600, b"x" * 425], 413),  # streamed past the limit
        (str(LIMIT + 1), [b"x"], 413),  # declared past it: not read at all
    ],
)
async def test_bodies_over_the_limit_get_413(
    declared: str | None, chunks: list[bytes], status: int
) -> None:
    headers = AUTH if declared is None else {**AUTH, "Content-Length": declared}
    got, _, body = await call("/mcp", headers, chunks)
    assert got == status
    if status == 413:
        assert body["error"]["code"] == codes.MESSAGE_TOO_LARGE


def test_a_public_address_checks_hosts_only_when_they_are_named() -> None:
    assert guards.allowed_hosts("0.0.0.0", 80, ()) is None
    assert guards.allowed_hosts("0.0.0.0", 80, ("mcp.example.com",)) == frozenset(
        {
            *guards.LOOPBACK_HOSTS,
            "0.0.0.0",
            *(f"{name}:80" for name in (*guards.LOOPBACK_HOSTS, "0.0.0.0")),
            "mcp.example.com",
        }
    )
