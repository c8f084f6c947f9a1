"""Editing the config of a running gateway: a token revoked in the file stops working at once,
open sessions included; a broken edit keeps what runs; SIGHUP reloads it too."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import TextContent

from micro_mcp import codes
from tests.e2e.conftest import demo, http_gateway_process

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ALICE, BOB = "alice-token-0123456789abc", "bob-token-0123456789abcdef"
ROTATED = "alice-rotated-0123456789abc"
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}


def _config(
    alice: str, *, bob_policy: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    bob: dict[str, Any] = {"token": BOB}
    if bob_policy is not None:
        bob["policy"] = bob_policy
    return {"principals": {"alice": {"token": alice}, "bob": bob}, **extra}


def _save(tmp_path: Path, text: str) -> None:
    """Replace the config in one step, as editors do (a new file renamed over the old)."""
    draft = tmp_path / "gateway.json.new"
    draft.write_text(text)
    draft.replace(tmp_path / "gateway.json")


async def _logged(tmp_path: Path, text: str, count: int = 1) -> None:
    """Wait until the gateway's log holds `count` lines containing `text` (its only word that
    a reload happened; the file is checked every `reloadInterval`)."""
    log = tmp_path / "gateway-http.log"
    with anyio.fail_after(20):
        while log.read_text().count(text) < count:  # noqa: ASYNC110 (a file: no event to await)
            await anyio.sleep(0.05)


async def _bob_calls(url: str) -> str | int:
    """What Bob's call of `one.echo` gets: its text, or the error code."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {BOB}"})
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        try:
            result = await client.call_tool("one.echo", {"text": "hi"})
        except MCPError as exc:
            return exc.error.code
        content = result.content[0]
        assert isinstance(content, TextContent)
        return content.text


async def test_a_token_revoked_in_the_file_ends_its_open_session_and_stream(
    tmp_path: Path,
) -> None:
    config = _config(ALICE, reloadInterval=0.2)
    async with (
        http_gateway_process(tmp_path, {"one": demo()}, config) as (url, _),
        httpx2.AsyncClient(timeout=20) as http,
    ):
        await _logged(tmp_path, "watching ")
        auth = {**HEADERS, "Authorization": f"Bearer {ALICE}"}
        opened = await http.post(url, json=INITIALIZE, headers=auth)
        session = {**auth, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        ended = anyio.Event()

        async def follow() -> None:
            async with http.stream("GET", url, headers=session) as stream:
                assert stream.status_code == 200
                async for _ in stream.aiter_bytes():
                    pass
            ended.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(follow)
            _save(tmp_path, json.dumps(_config(ROTATED, reloadInterval=0.2)))
            await _logged(tmp_path, "config reloaded:")
            with anyio.fail_after(10):
                await ended.wait()  # the session's stream ended with the session
        assert "revoked: alice" in (tmp_path / "gateway-http.log").read_text()
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        assert (await http.post(url, json=call, headers=session)).status_code == 401
        renewed = {**HEADERS, "Authorization": f"Bearer {ROTATED}"}
        assert (await http.post(url, json=INITIALIZE, headers=renewed)).status_code == 200
        assert await _bob_calls(url) == "hi"  # the other principal never noticed


async def test_a_broken_edit_keeps_the_running_config_and_sighup_applies_a_good_one(
    tmp_path: Path,
) -> None:
    config = _config(ALICE, reloadInterval=0)  # no polling: only SIGHUP reloads
    async with http_gateway_process(tmp_path, {"one": demo()}, config) as (url, process):
        await _logged(tmp_path, "watching ")
        _save(tmp_path, '{"principals": {"alice": {"token": "short"}}}')
        os.kill(process.pid, signal.SIGHUP)
        await _logged(tmp_path, "config not reloaded, the running one is kept")
        assert await _bob_calls(url) == "hi"
        _save(tmp_path, json.dumps(_config(ALICE, bob_policy={"deny": ["one.*"]})))
        os.kill(process.pid, signal.SIGHUP)
        await _logged(tmp_path, "config reloaded:")
        assert await _bob_calls(url) == codes.POLICY_DENIED
