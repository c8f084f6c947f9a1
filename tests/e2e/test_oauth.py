"""The gateway as an OAuth 2.1 resource server, against a real local authorization server.

The issuer (tests/fixtures/issuer.py) runs as its own process and mints real RS256 tokens; the
gateway fetches its keys over HTTP; clients are the official SDK's, with its OAuth flow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import (
    DEMO,
    demo,
    free_port,
    gateway_params,
    http_gateway,
    leaves,
    reap,
    wait_listening,
)
from tests.fixtures.issuer import mint, new_key

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ISSUER_SCRIPT = str(Path(__file__).resolve().parent.parent / "fixtures" / "issuer.py")
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
PING = json.dumps(  # any request the guard lets through opens a session and gets 200
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
)
SCOPE = "mcp:tools"


@asynccontextmanager
async def issuer() -> AsyncIterator[str]:
    """Run the test authorization server; yield its base URL (also its issuer identifier)."""
    port = free_port()
    argv = [sys.executable, ISSUER_SCRIPT, "--port", str(port), "--client", "gw:gw-secret"]
    process = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_listening(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await reap(process)


def oauth_config(base: str, resource: str, **extra: Any) -> dict[str, Any]:
    """A gateway config accepting the issuer's tokens for `resource`, with one static token."""
    return {
        "tokenSha256": hashlib.sha256(b"static-token-0123456789").hexdigest(),
        "oauth": {
            "issuer": base,
            "resource": resource,
            "jwksUri": f"{base}/jwks",
            "requiredScopes": [SCOPE],
            **extra,
        },
    }


@asynccontextmanager
async def oauth_gateway(
    tmp_path: Path, services: dict[str, Any], **extra: Any
) -> AsyncIterator[tuple[str, str]]:
    """An issuer and a gateway that trusts it; yields (issuer URL, gateway MCP URL)."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    async with (
        issuer() as base,
        http_gateway(
            tmp_path, services, oauth_config(base, resource, **extra), "--port", str(port)
        ) as url,
    ):
        assert url == resource
        yield base, url


async def minted(http: httpx2.AsyncClient, base: str, **claims: Any) -> str:
    """A token from the issuer's test route, with these claims over its defaults."""
    answer = await http.post(f"{base}/test/mint", json={"claims": claims})
    return str(answer.json()["token"])


async def client_credentials(http: httpx2.AsyncClient, base: str, resource: str) -> str:
    """A token for `resource` from the token endpoint, as a machine client gets one."""
    answer = await http.post(
        f"{base}/token",
        data={"grant_type": "client_credentials", "resource": resource, "scope": SCOPE},
        auth=("gw", "gw-secret"),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def post(http: httpx2.AsyncClient, url: str, token: str | None) -> httpx2.Response:
    headers = {**ACCEPT, **({"Authorization": f"Bearer {token}"} if token is not None else {})}
    return await http.post(url, content=PING, headers=headers)


# --- the SDK client's own OAuth flow ------------------------------------------------------------


class Storage:
    """The SDK's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Browser:
    """Follows the authorization URL as a user's browser would; the server approves at once."""

    def __init__(self) -> None:
        self.redirect: str | None = None

    async def open(self, url: str) -> None:
        async with httpx2.AsyncClient() as http:
            answer = await http.get(url, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        self.redirect = answer.headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        assert self.redirect is not None
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.redirect).query).items()}
        return AuthorizationCodeResult(
            code=query["code"], state=query.get("state"), iss=query.get("iss")
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_an_sdk_client_with_oauth_discovers_registers_authorizes_and_calls(
    tmp_path: Path, mode: str
) -> None:
    async with oauth_gateway(tmp_path, {"one": demo()}) as (_base, url):
        storage, browser = Storage(), Browser()
        provider = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                client_name="e2e",
                redirect_uris=["http://127.0.0.1:1/callback"],  # pyright: ignore[reportArgumentType]
            ),
            storage=storage,
            redirect_handler=browser.open,
            callback_handler=browser.callback,
        )
        http = httpx2.AsyncClient(auth=provider)
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            tools = await client.list_tools()
            result = await client.call_tool("one.echo", {"text": "through oauth"})
    assert "one.echo" in {tool.name for tool in tools.tools}
    assert "through oauth" in getattr(result.content[0], "text", "")
    assert storage.client is not None and storage.tokens is not None
    assert storage.tokens.scope == SCOPE  # asked for what the metadata said the gateway needs
    claims = jwt.decode(storage.tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == url


async def test_an_sdk_client_whose_token_lacks_the_scope_steps_up_on_403(tmp_path: Path) -> None:
    async with oauth_gateway(tmp_path, {"one": demo()}) as (base, url):
        async with httpx2.AsyncClient() as plain:
            narrow = await minted(plain, base, aud=url, scope="other")
        storage, browser = Storage(), Browser()
        storage.tokens = OAuthToken(access_token=narrow, token_type="Bearer", scope="other")
        provider = OAuthClientProvider(
            server_url=url,
            client_metadata=OAuthClientMetadata(
                client_name="e2e",
                redirect_uris=["http://127.0.0.1:1/callback"],  # pyright: ignore[reportArgumentType]
            ),
            storage=storage,
            redirect_handler=browser.open,
            callback_handler=browser.callback,
        )
        http = httpx2.AsyncClient(auth=provider)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool("one.echo", {"text": "stepped up"})
    assert "stepped up" in getattr(result.content[0], "text", "")
    assert browser.redirect is not None, "the client went back to the authorization server"
    assert storage.tokens is not None and storage.tokens.access_token != narrow
    assert set((storage.tokens.scope or "").split()) == {"other", SCOPE}


# --- what the gateway publishes and answers -------------------------------------------------------


async def test_metadata_is_served_at_both_well_known_forms(tmp_path: Path) -> None:
    async with (
        oauth_gateway(tmp_path, {"one": demo()}) as (base, url),
        httpx2.AsyncClient() as http,
    ):
        root = url.removesuffix("/mcp")
        documents = [
            (await http.get(f"{root}/.well-known/oauth-protected-resource{suffix}")).json()
            for suffix in ("", "/mcp")
        ]
        challenge = (await post(http, url, None)).headers["www-authenticate"]
    for document in documents:
        assert document["resource"] == url
        assert document["authorization_servers"] == [base]
        assert document["scopes_supported"] == [SCOPE]
    assert f'resource_metadata="{root}/.well-known/oauth-protected-resource/mcp"' in challenge


def _hs256_with_public_key(jwk: dict[str, Any], claims: dict[str, Any]) -> str:
    public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    pem = public.public_bytes(  # pyright: ignore[reportAttributeAccessIssue]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def part(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    signing = (
        part(b'{"alg":"HS256","typ":"JWT","kid":"key-1"}')
        + b"."
        + part(json.dumps(claims).encode())
    )
    return (signing + b"." + part(hmac.new(pem, signing, hashlib.sha256).digest())).decode()


async def test_every_bad_token_gets_401_with_its_reason_and_a_good_one_passes(
    tmp_path: Path,
) -> None:
    async with (
        oauth_gateway(tmp_path, {"one": demo()}) as (base, url),
        httpx2.AsyncClient() as http,
    ):
        good = await client_credentials(http, base, url)
        state = (await http.get(f"{base}/test/state")).json()
        now = int(time.time())
        valid = {"iss": base, "aud": url, "sub": "mallory", "scope": SCOPE, "exp": now + 300}
        unsigned = (
            base64.urlsafe_b64encode(b'{"alg":"none","kid":"key-1"}').rstrip(b"=").decode()
            + "."
            + base64.urlsafe_b64encode(json.dumps(valid).encode()).rstrip(b"=").decode()
            + "."
        )
        cases = {
            "malformed": ("eyJhbGciOi.broken.token", "malformed token"),
            "expired": (await minted(http, base, aud=url, scope=SCOPE, exp=now - 600), "expired"),
            "wrong audience": (
                await minted(http, base, aud="http://elsewhere/mcp", scope=SCOPE),
                "audience must be",
            ),
            "wrong issuer": (
                await minted(http, base, aud=url, scope=SCOPE, iss="http://evil.example"),
                "another issuer",
            ),
            "alg none": (unsigned, "alg none"),
            "unknown kid": (mint(new_key(), "key-999", valid), "unknown signing key"),
            "forged with the right kid": (mint(new_key(), "key-1", valid), "signature"),
            "HS256 with the public key": (
                _hs256_with_public_key(state["keys"][0], valid),
                "HMAC-signed",
            ),
            "oversized": (good + "A" * 9000, "over 8192 bytes"),
        }
        with anyio.fail_after(30):
            answers = {case: await post(http, url, token) for case, (token, _) in cases.items()}
            accepted = await post(http, url, good)
            missing = await post(http, url, None)
            narrow = await post(http, url, await minted(http, base, aud=url, scope="other"))
            in_query = await http.post(f"{url}?access_token={good}", content=PING, headers=ACCEPT)
    for case, (_token, reason) in cases.items():
        answer = answers[case]
        assert answer.status_code == 401, (case, answer.text)
        assert answer.json()["error"]["code"] == codes.UNAUTHENTICATED
        assert reason in answer.json()["error"]["message"], (case, answer.text)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], case
    assert accepted.status_code == 200 and "serverInfo" in accepted.text
    assert missing.status_code == 401 and "error=" not in missing.headers["www-authenticate"]
    assert narrow.status_code == 403 and f'scope="{SCOPE}"' in narrow.headers["www-authenticate"]
    assert in_query.status_code == 400 and "query" in in_query.json()["error"]["message"]


# --- the issuer's keys: rotation, floods, outages -------------------------------------------------


async def test_a_rotated_key_is_picked_up_on_its_first_token(tmp_path: Path) -> None:
    async with (
        oauth_gateway(tmp_path, {"one": demo()}, jwksRefreshSeconds=0) as (base, url),
        httpx2.AsyncClient() as http,
    ):
        before = await post(http, url, await minted(http, base, aud=url, scope=SCOPE))
        kid = (await http.post(f"{base}/test/rotate")).json()["kid"]
        after = await post(http, url, await minted(http, base, aud=url, scope=SCOPE))
        signed_by = jwt.get_unverified_header(await minted(http, base, aud=url))["kid"]
    assert before.status_code == 200 and after.status_code == 200, after.text
    assert signed_by == kid == "key-2"


async def test_a_flood_of_unknown_kids_costs_the_issuer_at_most_one_fetch(tmp_path: Path) -> None:
    async with (
        oauth_gateway(tmp_path, {"one": demo()}, jwksRefreshSeconds=3600) as (base, url),
        httpx2.AsyncClient() as http,
    ):
        assert (
            await post(http, url, await minted(http, base, aud=url, scope=SCOPE))
        ).status_code == 200
        before = (await http.get(f"{base}/test/state")).json()["jwksFetches"]
        key = new_key()
        valid = {"iss": base, "aud": url, "sub": "x", "scope": SCOPE, "exp": int(time.time()) + 60}
        statuses: list[int] = []

        async def attempt(n: int) -> None:
            statuses.append((await post(http, url, mint(key, f"made-up-{n}", valid))).status_code)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(attempt, n)
        after = (await http.get(f"{base}/test/state")).json()["jwksFetches"]
    assert statuses == [401] * 50
    assert after - before <= 1


async def test_a_hung_jwks_endpoint_does_not_stall_tokens_of_known_keys(tmp_path: Path) -> None:
    async with (
        oauth_gateway(tmp_path, {"one": demo()}, jwksRefreshSeconds=0, jwksTimeout=1) as (
            base,
            url,
        ),
        httpx2.AsyncClient(timeout=30) as http,
    ):
        token = await minted(http, base, aud=url, scope=SCOPE)
        assert (await post(http, url, token)).status_code == 200  # its key is cached now
        await http.post(f"{base}/test/state", json={"stalled": True})
        valid = {"iss": base, "aud": url, "sub": "x", "scope": SCOPE, "exp": int(time.time()) + 60}
        results: dict[str, int] = {}

        async def unknown() -> None:
            results["unknown"] = (
                await post(http, url, mint(new_key(), "key-9", valid))
            ).status_code

        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:
                tg.start_soon(unknown)
                results["known"] = (await post(http, url, token)).status_code
        await http.post(f"{base}/test/state", json={"stalled": False})
    assert results == {"known": 200, "unknown": 401}


async def test_an_issuer_that_is_down_refuses_jwts_quickly_and_static_tokens_still_work(
    tmp_path: Path,
) -> None:
    port, nobody = free_port(), free_port()  # nothing listens on `nobody`
    resource = f"http://127.0.0.1:{port}/mcp"
    down = f"http://127.0.0.1:{nobody}"
    config = oauth_config(down, resource, jwksRefreshSeconds=0)
    key = new_key()
    valid = {"iss": down, "aud": resource, "sub": "x", "scope": SCOPE, "exp": int(time.time()) + 60}
    async with (
        http_gateway(tmp_path, {"one": demo()}, config, "--port", str(port)) as url,
        httpx2.AsyncClient() as http,
    ):
        with anyio.fail_after(20):
            refused = await post(http, url, mint(key, "key-1", valid))
            static = await post(http, url, "static-token-0123456789")
    assert refused.status_code == 401
    assert "unknown signing key" in refused.json()["error"]["message"]
    assert static.status_code == 200


async def test_groups_from_a_token_pick_the_policy_and_the_rate_limit(tmp_path: Path) -> None:
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    async with issuer() as base, httpx2.AsyncClient() as http:
        config = {
            **oauth_config(
                base,
                resource,
                principals=[{"group": "interns", "principal": "echo-only"}],
                defaultPrincipal="nobody",
            ),
            "principals": {
                "echo-only": {"policy": {"allow": ["one.echo"]}},
                "nobody": {"policy": {"allow": []}},
            },
            "rateLimits": {"rules": [{"id": "interns", "groups": ["interns"], "rate": "2/minute"}]},
        }
        async with http_gateway(tmp_path, {"one": demo()}, config, "--port", str(port)) as url:
            intern = await minted(http, base, aud=url, scope=SCOPE, groups=["interns"])
            outsider = await minted(http, base, aud=url, scope=SCOPE, groups=["visitors"])
            calls: dict[str, list[Any]] = {"intern": [], "outsider": []}
            for who, token in (("intern", intern), ("outsider", outsider)):
                auth = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
                async with auth, Client(streamable_http_client(url, http_client=auth)) as client:
                    calls[who].append({t.name for t in (await client.list_tools()).tools})
                    for _ in range(3):
                        try:
                            await client.call_tool("one.echo", {"text": "hi"})
                            calls[who].append("ok")
                        except MCPError as exc:
                            calls[who].append(exc.error.code)
    assert calls["intern"] == [{"one.echo"}, "ok", "ok", codes.RATE_LIMITED]
    assert calls["outsider"] == [set(), *[codes.POLICY_DENIED] * 3]  # hidden, and refused


# --- opaque tokens, stdio, and what a service sees ----------------------------------------------


async def test_opaque_tokens_are_introspected(tmp_path: Path) -> None:
    secret = tmp_path / "introspection.secret"
    secret.write_text("gw-secret\n")
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    async with issuer() as base, httpx2.AsyncClient() as http:
        introspection = {
            "endpoint": f"{base}/introspect",
            "clientId": "gw",
            "clientSecretFile": str(secret),
        }
        config = oauth_config(base, resource, introspection=introspection)
        async with http_gateway(tmp_path, {"one": demo()}, config, "--port", str(port)) as url:
            opaque = await http.post(
                f"{base}/test/opaque", json={"claims": {"aud": url, "scope": SCOPE}}
            )
            accepted = await post(http, url, opaque.json()["token"])
            unknown = await post(http, url, "an-opaque-token-the-issuer-never-issued")
    assert accepted.status_code == 200, accepted.text
    assert unknown.status_code == 401 and "not active" in unknown.json()["error"]["message"]


async def test_an_introspection_endpoint_that_is_down_gets_503_not_a_pass(tmp_path: Path) -> None:
    secret = tmp_path / "introspection.secret"
    secret.write_text("gw-secret\n")
    port, nobody = free_port(), free_port()  # nothing listens on `nobody`
    resource = f"http://127.0.0.1:{port}/mcp"
    introspection = {
        "endpoint": f"http://127.0.0.1:{nobody}/introspect",
        "clientId": "gw",
        "clientSecretFile": str(secret),
        "timeout": 2,
    }
    config = oauth_config(f"http://127.0.0.1:{nobody}", resource, introspection=introspection)
    async with (
        http_gateway(tmp_path, {"one": demo()}, config, "--port", str(port)) as url,
        httpx2.AsyncClient() as http,
    ):
        with anyio.fail_after(20):
            answer = await post(http, url, "an-opaque-token-0123456789")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert "could not check the token" in answer.json()["error"]["message"]


async def test_a_stdio_client_may_pass_an_oauth_token_in_micro_mcp_token(tmp_path: Path) -> None:
    resource = "https://gateway.example/mcp"  # no HTTP front: only the audience must match
    async with issuer() as base, httpx2.AsyncClient() as http:
        token = await minted(http, base, aud=resource, scope=SCOPE)
        expired = await minted(http, base, aud=resource, scope=SCOPE, exp=int(time.time()) - 600)
        config = oauth_config(base, resource)
        params = gateway_params(tmp_path, {"one": demo()}, config, {"MICRO_MCP_TOKEN": token})
        async with Client(params) as client:
            tools = await client.list_tools()
        refused: list[MCPError] = []
        try:
            expired_params = gateway_params(
                tmp_path, {"one": demo()}, config, {"MICRO_MCP_TOKEN": expired}
            )
            async with Client(expired_params, mode="legacy"):
                pass
        except* MCPError as group:  # the SDK client raises from inside its task group
            refused = [e for e in leaves(group) if isinstance(e, MCPError)]
    assert "one.echo" in {tool.name for tool in tools.tools}
    assert [e.error.code for e in refused] == [codes.UNAUTHENTICATED]


async def test_the_clients_oauth_token_never_reaches_a_service(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, DEMO, "--http", str(port)]
    async with await anyio.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as service:
        try:
            await wait_listening(port)
            services = {"remote": {"url": f"http://127.0.0.1:{port}/mcp"}}
            async with oauth_gateway(tmp_path, services) as (base, url):
                async with httpx2.AsyncClient() as plain:
                    token = await client_credentials(plain, base, url)
                http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
                async with (
                    http,
                    Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
                ):
                    seen = await client.call_tool("remote.headers", {})
        finally:
            service.terminate()
    assert seen.structured_content == {}, "the service got no Authorization header at all"
