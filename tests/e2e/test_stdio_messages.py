"""What a stdio gateway tells its client and its log when it cannot serve: a missing token, a
wrong one, and an input that ends before the services are up."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import anyio
import pytest

from micro_mcp import codes
from tests.e2e.conftest import GatewayLog, demo, gateway_argv, stop, wire

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "s3cret-token-0123456789"


@pytest.mark.parametrize(
    ("token", "said"),
    [
        (None, "MICRO_MCP_TOKEN is not set"),
        ("wrong-token-0123456789", "MICRO_MCP_TOKEN is set but matches no token"),
    ],
)
async def test_a_missing_token_and_a_wrong_one_are_told_apart(
    tmp_path: Path, token: str | None, said: str
) -> None:
    argv = gateway_argv(tmp_path, {"one": demo()}, {"token": TOKEN})
    env = {k: v for k, v in os.environ.items() if k != "MICRO_MCP_TOKEN"}
    if token is not None:
        env["MICRO_MCP_TOKEN"] = token
    async with wire(argv, tmp_path / "stderr.log", env) as gateway:
        reply = await gateway.request(
            1,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "wire", "version": "1"},
            },
        )
        logged = await gateway.log.next("every request will be refused")
    assert reply["error"]["code"] == codes.UNAUTHENTICATED
    assert said in reply["error"]["message"]
    assert said in logged


async def test_input_closed_before_the_services_are_up_is_logged(tmp_path: Path) -> None:
    # A service that never answers its handshake keeps the gateway from being ready.
    mute = {"command": "python", "args": ["-c", "import sys; sys.stdin.buffer.read()"]}
    argv = gateway_argv(tmp_path, {"mute": mute})
    log = GatewayLog()
    process = await anyio.open_process(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    with (tmp_path / "stderr.log").open("wb") as copy:
        await log.record(process.stderr, copy)
    await stop(process)
    assert any("stdin closed before the gateway was ready" in line for line in log.lines)
    assert not any("gateway ready" in line for line in log.lines)
