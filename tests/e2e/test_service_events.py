"""How the gateway reads the SSE streams of services reached by URL: real gateway, raw service.

The service (tests/fixtures/raw_sse_server.py) writes its streams byte for byte, so a reply can
carry what JSON encoders leave unescaped (U+2028, U+2029, U+0085) or a data line with no end.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from micro_mcp import codes
from tests.e2e.conftest import FIXTURES, free_port, gateway_argv, wait_listening, wire
from tests.e2e.test_isolation import call, peak_rss
from tests.fixtures.raw_sse_server import SEPARATORS

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MIB = 1024 * 1024
RAW = str(FIXTURES / "raw_sse_server.py")


@asynccontextmanager
async def raw_service() -> AsyncGenerator[str]:
    """Run the raw service on a free port; yield its base URL."""
    port = free_port()
    argv = [sys.executable, RAW, str(port)]
    async with await anyio.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as server:
        try:
            await wait_listening(port)
            yield f"http://127.0.0.1:{port}"
        finally:
            server.terminate()


def entry(base: str, name: str, transport: str, **options: Any) -> dict[str, Any]:
    """A manifest entry for service `name` of the raw server over `transport` (mcp or sse)."""
    kind = {"type": "sse"} if transport == "sse" else {}
    return {"url": f"{base}/{name}/{transport}", **kind, **options}


def text_of(reply: dict[str, Any]) -> str:
    assert "result" in reply, reply
    return reply["result"]["content"][0]["text"]


@pytest.mark.parametrize("transport", ["mcp", "sse"])
async def test_line_separators_unescaped_in_a_result_reach_the_client_intact(
    tmp_path: Path, transport: str
) -> None:
    async with raw_service() as base:
        argv = gateway_argv(tmp_path, {"raw": entry(base, "a", transport)})
        async with wire(argv, tmp_path / "stderr.txt") as gateway:
            await gateway.initialize()
            reply = await call(gateway, 1, "raw.separators")
    assert text_of(reply) == SEPARATORS


@pytest.mark.parametrize(
    ("transport", "code"),
    [
        ("mcp", codes.MESSAGE_TOO_LARGE),  # the stream answers one request: it fails at once
        ("sse", codes.UPSTREAM_UNAVAILABLE),  # one stream answers all: the id cannot be known
    ],
)
async def test_an_endless_data_line_fails_its_call_fast_without_the_gateway_holding_it(
    tmp_path: Path, transport: str, code: int
) -> None:
    async with raw_service() as base:
        services = {
            # The timeout is far above how long the refusal takes; only a reader that waits for
            # the line to end would reach it (and answer UPSTREAM_TIMEOUT).
            "huge": entry(base, "a", transport, toolTimeouts={"endless": 10}),
            "calm": entry(base, "b", transport),
        }
        argv = gateway_argv(tmp_path, services, {"maxMessageBytes": 4 * MIB})
        async with wire(argv, tmp_path / "stderr.txt") as gateway:
            await gateway.initialize()
            assert text_of(await call(gateway, 1, "calm.echo", text="warm")) == "warm"
            before = peak_rss(gateway.process.pid)
            with anyio.fail_after(30):
                refused = await call(gateway, 2, "huge.endless")
            after = peak_rss(gateway.process.pid)
            calm = text_of(await call(gateway, 3, "calm.echo", text="fine"))
    assert refused["error"]["code"] == code
    # The raw server sends 64 MiB of the line: the gateway holds about the 4 MiB limit at most.
    assert after - before < 24 * MIB, f"peak memory grew by {(after - before) / MIB:.1f} MiB"
    assert calm == "fine"
