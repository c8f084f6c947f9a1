"""Profiles, overrides and the cache of reads end to end: a real gateway process over the
example fs and http services (and the demo service for cacheable reads), driven by the SDK
client over HTTP (`/mcp/p/NAME`) and over stdio (`--profile`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import demo, gateway_argv, gateway_params, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "profiles-test-token-0123456789"
ALICE = "alice-profiles-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROFILES = {
    "files": {"services": ["fs"], "description": "the notes folder"},
    "web": {"tags": ["web"]},
}
CONFIG: dict[str, Any] = {
    "token": TOKEN,
    "profiles": PROFILES,
    "principals": {"alice": {"token": ALICE, "profile": "files"}},
}


def _services(root: Path) -> dict[str, Any]:
    fs = {
        "command": sys.executable,
        "args": ["-m", "micro_mcp.services.fs", "--root", str(root)],
        "tools": {
            "readFileText": {
                "name": "readNote",
                "description": "Read a note (at most 64 bytes).",
                "fixed": {"maxBytes": 64},
            },
            "glob": {"hide": True},
        },
    }
    http = {"command": sys.executable, "args": ["-m", "micro_mcp.services.http"], "tags": ["web"]}
    return {"fs": fs, "http": http}


def _notes(tmp_path: Path) -> Path:
    root = tmp_path / "notes"
    root.mkdir()
    (root / "short.txt").write_text("a short note")
    (root / "long.txt").write_text("x" * 200)
    return root


async def _tools(client: Client) -> list[str]:
    return sorted(tool.name for tool in (await client.list_tools()).tools)


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_a_profile_endpoint_serves_its_subset_with_overrides_applied(
    tmp_path: Path, mode: str
) -> None:
    services = _services(_notes(tmp_path))
    async with http_gateway(tmp_path, services, CONFIG) as url:
        http = httpx2.AsyncClient(headers=AUTH)
        async with http:
            files = Client(streamable_http_client(f"{url}/p/files", http_client=http), mode=mode)
            async with files as client:
                listed = (await client.list_tools()).tools
                short = await client.call_tool("fs.readNote", {"path": "short.txt"})
                long = await client.call_tool("fs.readNote", {"path": "long.txt"})
                with pytest.raises(MCPError) as passed_fixed:
                    await client.call_tool("fs.readNote", {"path": "short.txt", "maxBytes": 9})
                with pytest.raises(MCPError) as outside:
                    await client.call_tool("http.fetch", {"url": "https://example.com"})
                with pytest.raises(MCPError) as hidden:
                    await client.call_tool("fs.glob", {"pattern": "*"})
            web = Client(streamable_http_client(f"{url}/p/web", http_client=http), mode=mode)
            async with web as client:
                web_tools = await _tools(client)
            async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
                everything = await _tools(client)
    names = sorted(tool.name for tool in listed)
    assert names == ["fs.listDir", "fs.readNote", "fs.stat"]
    [read] = [tool for tool in listed if tool.name == "fs.readNote"]
    assert read.description == "Read a note (at most 64 bytes)."
    assert "maxBytes" not in read.input_schema["properties"]
    assert short.structured_content is not None
    assert short.structured_content["text"] == "a short note"
    assert long.is_error, "the fixed maxBytes reached the service, which refused 200 bytes"
    assert "64" in str(long.content[0])
    for refused in (passed_fixed, outside, hidden):
        assert refused.value.error.code == codes.INVALID_PARAMS
    assert web_tools and all(name.startswith("http.") for name in web_tools)
    assert set(everything) == set(names) | set(web_tools)


async def test_profile_endpoints_keep_the_guards_and_assignments_of_mcp(tmp_path: Path) -> None:
    services = _services(_notes(tmp_path))
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    headers = {"Accept": "application/json, text/event-stream"}
    async with (
        http_gateway(tmp_path, services, CONFIG) as url,
        httpx2.AsyncClient(headers=headers) as raw,
    ):
        no_token = await raw.post(f"{url}/p/files", json=body)
        unknown = await raw.post(f"{url}/p/nope", json=body, headers=AUTH)
        alice_auth = {"Authorization": f"Bearer {ALICE}"}
        not_hers = await raw.post(f"{url}/p/web", json=body, headers=alice_auth)
        initialize = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "raw", "version": "0"},
            },
        }
        opened = await raw.post(f"{url}/p/files", json=initialize, headers=AUTH)
        session = {**AUTH, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        elsewhere = await raw.post(url, json=body, headers=session)
        same_endpoint = await raw.post(f"{url}/p/files", json=body, headers=session)
        alice_http = httpx2.AsyncClient(headers=alice_auth)
        async with alice_http, Client(streamable_http_client(url, http_client=alice_http)) as c:
            alice_sees = await _tools(c)
        admin = await raw.get(url.replace("/mcp", "/admin/status"))
    assert no_token.status_code == 401
    assert unknown.status_code == 404
    assert not_hers.status_code == 404
    assert opened.status_code == 200
    assert elsewhere.status_code == 404, "a session belongs to the endpoint that opened it"
    assert same_endpoint.status_code == 200
    assert alice_sees == ["fs.listDir", "fs.readNote", "fs.stat"], "held to 'files' on /mcp"
    profiles = {p["name"]: p for p in admin.json()["profiles"]}
    assert profiles["files"]["endpoint"] == "/mcp/p/files"
    assert profiles["files"]["catalog"]["tools"] == 3
    assert profiles["files"]["description"] == "the notes folder"


async def test_stdio_serves_the_profile_given_with_profile(tmp_path: Path) -> None:
    services = _services(_notes(tmp_path))
    params = gateway_params(tmp_path, services, {"profiles": PROFILES})
    params.args = [*params.args, "--profile", "files"]
    async with Client(params) as client:
        tools = await _tools(client)
        with pytest.raises(MCPError) as outside:
            await client.call_tool("http.fetch", {"url": "https://example.com"})
    assert tools == ["fs.listDir", "fs.readNote", "fs.stat"]
    assert outside.value.error.code == codes.INVALID_PARAMS


async def test_stdio_refuses_a_profile_the_config_does_not_have(tmp_path: Path) -> None:
    argv = [*gateway_argv(tmp_path, _services(_notes(tmp_path)), {}), "--profile", "nope"]
    done = await anyio.run_process(argv, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 2
    assert b"--profile nope: no such profile" in done.stderr


async def test_a_cacheable_read_is_answered_by_the_gateway_while_fresh(tmp_path: Path) -> None:
    services = {"demo": demo("--read-ttl", "600000")}
    config = {"token": TOKEN, "cache": {}}
    async with http_gateway(tmp_path, services, config) as url:
        http = httpx2.AsyncClient(headers=AUTH)
        # The SDK client keeps cacheable results itself unless told not to.
        uncached = Client(streamable_http_client(url, http_client=http), cache=None)
        async with http, uncached as client:
            first = await client.read_resource("demo+demo://counted")
            second = await client.read_resource("demo+demo://counted")
            metrics = (await http.get(url.replace("/mcp", "/metrics"))).text
            status = (await http.get(url.replace("/mcp", "/admin/status"))).json()
    texts = [getattr(r.contents[0], "text", None) for r in (first, second)]
    assert texts == ["read 1 times", "read 1 times"]
    assert 'micro_mcp_cache_lookups_total{result="hit",service="demo"} 1.0' in metrics
    assert 'micro_mcp_cache_lookups_total{result="miss",service="demo"} 1.0' in metrics
    assert status["cache"]["entries"] == 1
