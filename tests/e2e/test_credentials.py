"""Credentials by reference with real processes: a service by URL gets the header its manifest
names as `${file:...}` / `${env:...}`, a rotated file reaches it (the gateway watches it), the value
shows up nowhere the operator looks (the gateway's log, `/admin/status`, `check`, `config
check`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import (
    DEMO,
    demo,
    free_port,
    gateway_params,
    http_gateway,
    reap,
    wait_listening,
)
from tests.e2e.test_oauth import ISSUER_SCRIPT, SCOPE, issuer, minted, oauth_config

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "creds-client-token-0123456789"
OPERATOR = "creds-operator-token-0123456789"
CONFIG = {"token": TOKEN, "telemetry": {"operatorToken": OPERATOR}}
SECRET = "file-secret-0123456789abcdef"
ROTATED = "rotated-secret-9876543210fedcba"
ENV_SECRET = "env-secret-abcdef0123456789"


@asynccontextmanager
async def demo_by_url() -> AsyncIterator[str]:
    """The demo server over Streamable HTTP; yields its URL."""
    port = free_port()
    argv = [sys.executable, DEMO, "--http", str(port)]
    process = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_listening(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        await reap(process)


async def seen_headers(url: str) -> dict[str, Any]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        result = await client.call_tool("remote.headers", {})
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_a_file_reference_reaches_the_service_and_no_operator_view_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CREDS_SERVICE_KEY", ENV_SECRET)  # the gateway process inherits it
    token = tmp_path / "token"  # relative to the manifest's folder, tmp_path
    token.write_text(SECRET + "\n", encoding="utf-8")
    async with demo_by_url() as service_url:
        services = {
            "remote": {
                "url": service_url,
                "headers": {
                    "Authorization": "Bearer ${file:token}",
                    "X-Service-Key": "${env:CREDS_SERVICE_KEY}",
                },
            }
        }
        async with http_gateway(tmp_path, services, CONFIG) as url:
            first = await seen_headers(url)
            token.write_text(ROTATED, encoding="utf-8")  # watched: no SIGHUP needed
            second: dict[str, Any] | None = None
            with anyio.fail_after(20):
                while second is None or second == first:  # until the restarted one answers
                    await anyio.sleep(0.1)
                    second = await seen_headers_when_up(url)
            async with httpx2.AsyncClient() as http:
                operator = {"Authorization": f"Bearer {OPERATOR}"}
                status = await http.get(url.replace("/mcp", "/admin/status"), headers=operator)
                page = await http.get(url.replace("/mcp", "/admin"), headers=operator)
        log = (tmp_path / "gateway-http.log").read_text()
        checked = await _run("check", "--discovery", str(tmp_path / "discovery.json"))
    config_check = await _run("config", "check", str(tmp_path / "discovery.json"))

    # The client's own token stays at the gateway; the service gets its own, resolved.
    assert first == {"authorization": f"Bearer {SECRET}", "x-service-key": ENV_SECRET}
    assert second == {"authorization": f"Bearer {ROTATED}", "x-service-key": ENV_SECRET}
    assert "restarted remote" in log
    assert status.status_code == 200 and "remote" in status.text
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "remote" in checked.stdout
    assert config_check.returncode == 0 and "2 credential reference(s)" in config_check.stdout
    shown = "\n".join(
        (log, status.text, page.text, checked.stdout, checked.stderr, config_check.stdout)
    )
    for secret in (SECRET, ROTATED, ENV_SECRET):
        assert secret not in shown
    assert json.loads(status.text)["services"][0]["state"] == "ready"
    assert os.environ["CREDS_SERVICE_KEY"] == ENV_SECRET


async def seen_headers_when_up(url: str) -> dict[str, Any] | None:
    """The headers the service saw, or None while it restarts (a call then fails)."""
    try:
        return await seen_headers(url)
    except MCPError:  # -32012 while the service restarts
        return None


async def _run(*args: str) -> subprocess.CompletedProcess[str]:
    with anyio.fail_after(60):
        done = await anyio.run_process([sys.executable, "-m", "micro_mcp", *args], check=False)
    out, err = done.stdout.decode(), done.stderr.decode()
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


# --- OAuth tokens of the gateway's own: token exchange and client credentials ---------------------

SERVICE_AUDIENCE = "https://remote.example/mcp"
STATIC = "static-token-0123456789"


def _auth(base: str, kind: str, **extra: str) -> dict[str, Any]:
    return {
        "type": kind,
        "tokenEndpoint": f"{base}/token",
        "clientId": "gw",
        "clientSecret": "${file:client-secret}",
        **extra,
    }


async def _call(url: str, token: str, name: str = "remote.headers") -> dict[str, Any]:
    """One call with a bearer token; the tool's structured result or the error's code."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
    # Handshake era: with `sessions: per-client`, each client gets an upstream session of its own.
    transport = streamable_http_client(url, http_client=http)
    async with http, Client(transport, mode="legacy") as client:
        try:
            result = await client.call_tool(name, {"text": "hi"} if "echo" in name else {})
        except MCPError as exc:
            return {"code": exc.error.code}
    assert isinstance(result.structured_content, dict), result
    return result.structured_content


def _bearer_claims(seen: dict[str, Any]) -> dict[str, Any]:
    scheme, _, token = seen["authorization"].partition(" ")
    assert scheme == "Bearer"
    return jwt.decode(token, options={"verify_signature": False})


async def test_a_users_token_is_exchanged_for_one_with_the_services_audience_never_passed_on(
    tmp_path: Path,
) -> None:
    (tmp_path / "client-secret").write_text("gw-secret\n", encoding="utf-8")
    async with demo_by_url() as service_url, issuer() as base:
        services = {
            "remote": {
                "url": service_url,
                "auth": _auth(base, "token-exchange", audience=SERVICE_AUDIENCE),
                "sessions": "per-client",  # the tokens are the service's, shared by sessions
            },
            "local": demo(),
        }
        port = free_port()
        resource = f"http://127.0.0.1:{port}/mcp"
        config = oauth_config(base, resource)
        async with (
            http_gateway(tmp_path, services, config, "--port", str(port)) as url,
            httpx2.AsyncClient() as http,
        ):
            alice = await minted(http, base, sub="alice", aud=resource, scope=SCOPE)
            bob = await minted(http, base, sub="bob", aud=resource, scope=SCOPE)
            first = await _call(url, alice)
            again = await _call(url, alice)
            bobs = await _call(url, bob)
            exchanges = (await http.get(f"{base}/test/state")).json()["exchanges"]
            static = await _call(url, STATIC)
            await http.post(f"{base}/test/state", json={"refusing": True})
            carol = await minted(http, base, sub="carol", aud=resource, scope=SCOPE)
            refused = await _call(url, carol)
            unaffected = await _call(url, carol, "local.echo")
            cached = await _call(url, alice)  # alice's exchanged token is still good
        log = (tmp_path / "gateway-http.log").read_text()

    # The service sees a token for alice, for its own audience, obtained by the gateway, and
    # never the client's token.
    assert first["authorization"] != f"Bearer {alice}"
    claims = _bearer_claims(first)
    assert (claims["sub"], claims["aud"], claims["act"]) == (
        "alice",
        SERVICE_AUDIENCE,
        {"sub": "gw"},
    )
    assert again == first and cached == first  # cached per user until shortly before expiry
    assert _bearer_claims(bobs)["sub"] == "bob"
    assert exchanges == 2
    for seen in (first, bobs):
        assert alice not in seen["authorization"] and bob not in seen["authorization"]
    # A caller with no OAuth token has nothing to exchange; a refusing issuer is an error of its
    # own; the other service is unaffected.
    assert static == {"code": codes.UPSTREAM_CREDENTIALS}
    assert refused == {"code": codes.UPSTREAM_CREDENTIALS}
    assert unaffected == {"result": "hi"}
    assert "gw-secret" not in log and alice not in log


async def test_client_credentials_give_the_service_the_gateways_own_token(tmp_path: Path) -> None:
    (tmp_path / "client-secret").write_text("gw-secret", encoding="utf-8")
    async with demo_by_url() as service_url, issuer() as base:
        services = {
            "remote": {
                "url": service_url,
                "auth": _auth(base, "client-credentials", resource=SERVICE_AUDIENCE),
            },
            # An authorization server that is not there: that service alone fails to start.
            "down": {
                "url": service_url,
                "auth": _auth(
                    f"http://127.0.0.1:{free_port()}", "client-credentials", resource="x"
                ),
                "maxRestarts": 0,
            },
        }
        async with http_gateway(tmp_path, services, {"token": STATIC}) as url:
            seen = await _call(url, STATIC)
            again = await _call(url, STATIC)
            down = await _call(url, STATIC, "down.headers")
        log = (tmp_path / "gateway-http.log").read_text()

    claims = _bearer_claims(seen)
    assert (claims["sub"], claims["aud"]) == ("gw", SERVICE_AUDIENCE)
    assert again == seen
    assert seen["authorization"] != f"Bearer {STATIC}"
    assert down["code"] == codes.INVALID_PARAMS  # never started, so its tools are unknown
    assert "service 'down': the authorization server is unreachable" in log
    assert "gw-secret" not in log


async def test_a_stdio_client_with_an_oauth_token_is_exchanged_for_too(tmp_path: Path) -> None:
    (tmp_path / "client-secret").write_text("gw-secret", encoding="utf-8")
    async with demo_by_url() as service_url, issuer() as base:
        services = {
            "remote": {
                "url": service_url,
                "auth": _auth(base, "token-exchange", audience=SERVICE_AUDIENCE),
            }
        }
        resource = "https://gateway.example/mcp"  # no HTTP front: only the audience must match
        async with httpx2.AsyncClient() as http:
            dana = await minted(http, base, sub="dana", aud=resource, scope=SCOPE)
        config = oauth_config(base, resource)
        params = gateway_params(tmp_path, services, config, {"MICRO_MCP_TOKEN": dana})
        async with Client(params) as client:
            result = await client.call_tool("remote.headers", {})
    assert isinstance(result.structured_content, dict)
    claims = _bearer_claims(result.structured_content)
    assert (claims["sub"], claims["aud"]) == ("dana", SERVICE_AUDIENCE)
    assert dana not in result.structured_content["authorization"]


async def test_an_issuer_that_goes_down_fails_new_exchanges_fast_and_nothing_else(
    tmp_path: Path,
) -> None:
    (tmp_path / "client-secret").write_text("gw-secret", encoding="utf-8")
    issuer_port = free_port()
    base = f"http://127.0.0.1:{issuer_port}"
    argv = [sys.executable, ISSUER_SCRIPT, "--port", str(issuer_port), "--client", "gw:gw-secret"]
    process = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_listening(issuer_port)
        async with demo_by_url() as service_url:
            auth = {**_auth(base, "token-exchange", audience=SERVICE_AUDIENCE), "timeout": 3}
            services = {"remote": {"url": service_url, "auth": auth}, "local": demo()}
            port = free_port()
            resource = f"http://127.0.0.1:{port}/mcp"
            config = oauth_config(base, resource)
            async with (
                http_gateway(tmp_path, services, config, "--port", str(port)) as url,
                httpx2.AsyncClient() as http,
            ):
                alice = await minted(http, base, sub="alice", aud=resource, scope=SCOPE)
                bob = await minted(http, base, sub="bob", aud=resource, scope=SCOPE)
                first = await _call(url, alice)  # the gateway now holds the issuer's keys
                process.terminate()
                await process.wait()
                alice_again = await _call(url, alice)
                with anyio.fail_after(10):  # bob's token verifies, its exchange cannot happen
                    down = await _call(url, bob)
                local = await _call(url, bob, "local.echo")
    finally:
        if process.returncode is None:
            process.terminate()
        await reap(process)
    assert _bearer_claims(first)["sub"] == "alice"
    assert alice_again == first  # alice's exchanged token is kept while it is good
    assert down == {"code": codes.UPSTREAM_CREDENTIALS}
    assert local == {"result": "hi"}
