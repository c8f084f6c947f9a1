"""A service's OAuth tokens against a fake token endpoint (a local raw ASGI server): exchanged per
user and cached until shortly before expiry, bounded; the gateway's own by client credentials;
an endpoint that refuses, stalls or is not there is a clear -32032, never a hang."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest
from pydantic import SecretStr

from micro_mcp import codes
from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.service_auth import ServiceAuthSpec
from micro_mcp.errors import UpstreamCredentials
from micro_mcp.upstream.tokens import (
    ACCESS_TOKEN,
    CALLER,
    TOKEN_EXCHANGE,
    Caller,
    Tokens,
    on_behalf_of,
)
from tests.fixtures.local_server import Event, Receive, Send, body_of, local_server, respond

pytestmark = pytest.mark.anyio

SUBJECT = SecretStr("client-token-of-alice")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Endpoint:
    """A token endpoint that records each request and answers as told."""

    def __init__(self, lifetime: int = 300) -> None:
        self.forms: list[dict[str, str]] = []
        self.basic: list[str] = []
        self.lifetime = lifetime
        self.status = 200
        self.stall = False

    async def __call__(self, scope: Event, receive: Receive, send: Send) -> None:
        form = {k: v[0] for k, v in parse_qs((await body_of(receive)).decode()).items()}
        self.forms.append(form)
        headers = dict(scope["headers"])
        self.basic.append(base64.b64decode(headers[b"authorization"][6:]).decode())
        if self.stall:  # until the client gives up (the server's shutdown waits for this)
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if self.status != 200:
            await respond(
                send, self.status, b'{"error": "invalid_grant", "error_description": "x"}'
            )
            return
        who = form.get("subject_token", "gateway")
        answer = {"access_token": f"for:{who}:{len(self.forms)}", "token_type": "Bearer"}
        answer["expires_in"] = self.lifetime
        await respond(
            send, 200, json.dumps(answer).encode(), [(b"content-type", b"application/json")]
        )


def _spec(url: str, kind: str = "token-exchange", **extra: Any) -> ServiceAuthSpec:
    return ServiceAuthSpec.model_validate(
        {
            "type": kind,
            "tokenEndpoint": url,
            "clientId": "gw",
            "clientSecret": "s3cr:t",
            "audience": "https://svc",
            "timeout": 0.5,
            **extra,
        }
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def _tokens(
    endpoint: Endpoint, clock: Clock, kind: str = "token-exchange", **extra: Any
) -> AsyncGenerator[Tokens]:
    async with local_server(endpoint) as url:
        yield Tokens("svc", _spec(url, kind, **extra), SecretStr("s3cr:t"), clock)


async def test_a_callers_token_is_exchanged_once_and_kept_until_shortly_before_it_expires() -> None:
    endpoint, clock = Endpoint(lifetime=300), Clock()
    async with _tokens(endpoint, clock) as tokens:
        alice = Caller("oauth:alice", SUBJECT)
        first = await tokens.authorization(alice)
        assert await tokens.authorization(alice) == first
        clock.now += 300 - 31  # still more than the margin (30 s) before expiry
        assert await tokens.authorization(alice) == first
        clock.now += 2
        assert await tokens.authorization(alice) != first
    assert first == "Bearer for:client-token-of-alice:1"
    assert len(endpoint.forms) == 2
    assert endpoint.forms[0] == {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": SUBJECT.get_secret_value(),
        "subject_token_type": ACCESS_TOKEN,
        "requested_token_type": ACCESS_TOKEN,
        "audience": "https://svc",
    }
    assert endpoint.basic[0] == "gw:s3cr%3At"  # RFC 6749 2.3.1: form-encoded, then Basic


async def test_tokens_are_kept_per_caller_and_bounded() -> None:
    endpoint, clock = Endpoint(), Clock()
    async with _tokens(endpoint, clock, cacheSize=2) as tokens:
        for name in ("a", "b", "a", "c", "a", "b"):
            await tokens.authorization(Caller(name, SecretStr(f"token-{name}")))
    # a, b fetched; a cached; c evicts b (a was used last); a cached; b fetched again.
    assert [f["subject_token"] for f in endpoint.forms] == [
        "token-a",
        "token-b",
        "token-c",
        "token-b",
    ]


async def test_the_gateways_own_requests_and_client_credentials_use_the_gateways_token() -> None:
    endpoint, clock = Endpoint(), Clock()
    async with _tokens(endpoint, clock, "client-credentials") as tokens:
        own = await tokens.authorization(None)
        for_alice = await tokens.authorization(Caller("oauth:alice", SUBJECT))
    assert own == for_alice == "Bearer for:gateway:1"
    assert endpoint.forms == [{"grant_type": "client_credentials", "audience": "https://svc"}]


async def test_a_caller_without_an_oauth_token_cannot_be_exchanged_for() -> None:
    async with _tokens(Endpoint(), Clock()) as tokens:
        with pytest.raises(UpstreamCredentials) as caught:
            await tokens.authorization(Caller("static-principal"))
    assert caught.value.code == codes.UPSTREAM_CREDENTIALS


async def test_a_refusal_is_a_clear_error_with_the_oauth_code_and_no_secret() -> None:
    endpoint = Endpoint()
    endpoint.status = 400
    async with _tokens(endpoint, Clock()) as tokens:
        with pytest.raises(UpstreamCredentials) as caught:
            await tokens.authorization(Caller("oauth:alice", SUBJECT))
    assert caught.value.code == codes.UPSTREAM_CREDENTIALS
    assert caught.value.data == {"error": "invalid_grant"}
    assert SUBJECT.get_secret_value() not in caught.value.message
    assert "s3cr" not in caught.value.message


async def test_a_stalled_endpoint_times_out_and_an_absent_one_is_unreachable() -> None:
    endpoint = Endpoint()
    endpoint.stall = True
    async with _tokens(endpoint, Clock()) as tokens:
        with anyio.fail_after(5), pytest.raises(UpstreamCredentials, match=r"within 0\.5 s"):
            await tokens.authorization(None)
    gone = Tokens("svc", _spec("http://127.0.0.1:9/token"), SecretStr("s"))
    with anyio.fail_after(5), pytest.raises(UpstreamCredentials, match="unreachable"):
        await gone.authorization(None)


def test_on_behalf_of_keeps_the_fronts_token_for_the_same_subject_only() -> None:
    reset = CALLER.set(Caller("oauth:alice", SUBJECT))
    try:
        with on_behalf_of("oauth:alice"):
            assert CALLER.get() == Caller("oauth:alice", SUBJECT)
        with on_behalf_of("oauth:bob"):
            assert CALLER.get() == Caller("oauth:bob")
        assert CALLER.get() == Caller("oauth:alice", SUBJECT)
    finally:
        CALLER.reset(reset)


@pytest.mark.parametrize(
    ("entry", "fault"),
    [
        ({"command": "x"}, "'auth' applies to a service by 'url'"),
        ({"url": "http://x", "headers": {"Authorization": "b"}}, "not both"),
    ],
)
def test_auth_is_for_services_by_url_without_their_own_authorization_header(
    entry: dict[str, Any], fault: str
) -> None:
    auth = {"type": "client-credentials", "tokenEndpoint": "http://a/t", "clientId": "c"}
    with pytest.raises(ValueError, match=fault):
        ServiceSpec.model_validate({**entry, "auth": {**auth, "clientSecret": "${env:S}"}})
