"""The HTTP front's guards, driven as plain ASGI calls: no server, no sockets."""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from micro_mcp import codes
from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.gateway.credentials import build_authority
from micro_mcp.gateway.fronts import guards
from micro_mcp.gateway.fronts.asgi import App, Receive, Scope, Send, read_body, reply
from micro_mcp.identity.authority import Authority
from micro_mcp.policy.engine import Authenticator, token_digest
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.telemetry.recorder import Recorder
from tests.fixtures.issuer import mint, new_key, public_jwk

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
    authority=Authority(Authenticator({"alice": (token_digest(TOKEN), ALICE)}, None)),
    token_paths=frozenset({"/mcp"}),
    max_body_bytes=LIMIT,
)


async def call(
    path: str,
    headers: dict[str, str],
    body: list[bytes] | None = None,
    app: App = APP,
    query: bytes = b"",
) -> tuple[int, dict[str, str], Any]:
    """Run one request through the guarded app; return status, headers and the JSON body."""
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    scope: Scope = {
        "type": "http",
        "method": "GET" if body is None else "POST",
        "path": path,
        "headers": raw,
        "query_string": query,
    }
    chunks = list(body or [b""])
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        chunk = chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
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


# --- OAuth: challenges that point to the metadata, and why a token was refused ----------------

RESOURCE = "http://127.0.0.1:8765/mcp"
KEY = new_key()
OAUTH = GatewayConfig.model_validate(
    {
        "oauth": {
            "issuer": "https://issuer.example",
            "resource": RESOURCE,
            "jwksUri": "https://issuer.example/jwks",
            "requiredScopes": ["mcp:tools"],
        }
    }
)


async def _jwks() -> dict[str, Any]:
    return {"keys": [public_jwk(KEY, "k1")]}


_built = build_authority(OAUTH, {})
OAUTH_APP = guards.guarded(
    echo,
    hosts=guards.allowed_hosts("127.0.0.1", 8765, ()),
    origins=(),
    authority=Authority(_built.static, OAUTH.oauth, _built.claim_map, fetch_keys=_jwks),
    token_paths=frozenset({"/mcp"}),
    max_body_bytes=LIMIT,
)
METADATA = 'resource_metadata="http://127.0.0.1:8765/.well-known/oauth-protected-resource/mcp"'


def _token(**claims: Any) -> str:
    now = int(time.time())
    base = {"iss": "https://issuer.example", "aud": RESOURCE, "sub": "bob", "exp": now + 60}
    return mint(KEY, "k1", {**base, **claims})


async def test_no_token_gets_a_challenge_that_names_the_metadata_and_no_error() -> None:
    status, answer, body = await call("/mcp", HOST, app=OAUTH_APP)
    assert status == 401 and body["error"]["code"] == codes.UNAUTHENTICATED
    assert METADATA in answer["www-authenticate"] and "error=" not in answer["www-authenticate"]


async def test_a_bad_token_gets_invalid_token_with_the_reason() -> None:
    headers = {**HOST, "Authorization": f"Bearer {_token(aud='https://elsewhere/mcp')}"}
    status, answer, body = await call("/mcp", headers, app=OAUTH_APP)
    assert status == 401 and body["error"]["code"] == codes.UNAUTHENTICATED
    challenge = answer["www-authenticate"]
    assert METADATA in challenge and 'error="invalid_token"' in challenge
    assert "audience must be http://127.0.0.1:8765/mcp" in body["error"]["message"]


async def test_a_token_without_the_required_scope_gets_403_naming_it() -> None:
    headers = {**HOST, "Authorization": f"Bearer {_token(scope='other')}"}
    status, answer, body = await call("/mcp", headers, app=OAUTH_APP)
    assert status == 403 and body["error"]["code"] == codes.POLICY_DENIED
    assert 'error="insufficient_scope"' in answer["www-authenticate"]
    assert 'scope="mcp:tools"' in answer["www-authenticate"]


async def test_a_good_token_reaches_the_application_as_its_principal() -> None:
    headers = {**HOST, "Authorization": f"Bearer {_token(scope='mcp:tools')}"}
    assert (await call("/mcp", headers, app=OAUTH_APP))[2] == {"who": "oauth:bob", "size": 0}


async def test_a_token_in_the_query_string_is_refused_even_with_a_good_header() -> None:
    headers = {**HOST, "Authorization": f"Bearer {_token(scope='mcp:tools')}"}
    query = f"access_token={_token(scope='mcp:tools')}".encode()
    status, answer, body = await call("/mcp", headers, app=OAUTH_APP, query=query)
    assert status == 400 and body["error"]["code"] == codes.INVALID_REQUEST
    assert "query" in body["error"]["message"]
    assert 'error="invalid_request"' in answer["www-authenticate"]


async def test_refusals_are_audited_without_the_token() -> None:
    sink = MemoryAuditSink()
    trail = Trail(sink, Recorder(), include_arguments=False)
    built = build_authority(OAUTH, {})
    app = guards.guarded(
        echo,
        hosts=guards.allowed_hosts("127.0.0.1", 8765, ()),
        origins=(),
        authority=Authority(built.static, OAUTH.oauth, built.claim_map, fetch_keys=_jwks),
        token_paths=frozenset({"/mcp"}),
        max_body_bytes=LIMIT,
        refused=trail.refusal,
    )
    scoped, forged = _token(scope="other"), _token(aud="https://elsewhere/mcp")
    good = _token(scope="mcp:tools")
    await call("/mcp", HOST, app=app)
    await call("/mcp", {**HOST, "Authorization": f"Bearer {forged}"}, app=app)
    await call("/mcp", {**HOST, "Authorization": f"Bearer {scoped}"}, app=app)
    await call("/mcp", HOST, app=app, query=f"access_token={good}".encode())
    await call("/mcp", {**HOST, "Authorization": f"Bearer {good}"}, app=app)  # admitted
    assert [(e.event, e.http_status, e.error_code, e.outcome) for e in sink.events] == [
        ("refused", 401, codes.UNAUTHENTICATED, "denied"),
        ("refused", 401, codes.UNAUTHENTICATED, "denied"),
        ("refused", 403, codes.POLICY_DENIED, "denied"),
        ("refused", 400, codes.INVALID_REQUEST, "denied"),
    ]
    assert "audience" in (sink.events[1].reason or "")
    trail_bytes = b"".join(e.to_json() for e in sink.events)
    for token in (scoped, forged, good):
        for part in token.split("."):
            assert part.encode() not in trail_bytes
