"""The http service as a real process: alone over stdio and Streamable HTTP, and behind the gateway.

The same contract as the in-memory tests (schemas, a fetch, a refusal as an `isError`
result), plus the SSRF guard across process boundaries: a sentinel on 127.0.0.1 must see no
connection, even with proxy variables in the service's environment pointing at it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult, TextContent, Tool

from tests.e2e.conftest import free_port, gateway_params, reap, wait_listening
from tests.services.http_sites import SITE_HOST, Sentinel, site

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ARGS = [
    "--allow", "site.test",
    "--resolve", f"site.test={SITE_HOST}",
    "--allow-net", f"{SITE_HOST}/32",
    "--timeout", "5",
]  # fmt: skip
"""A service that admits the test site by name and nothing internal besides it."""

ENV = {"ALLOWLIST": "localhost,*.localhost"}
"""Names that resolve to loopback, allowlisted so the address check is what refuses them."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    """The internal listener; the test fails if anything connected to it."""
    with Sentinel() as listener:
        yield listener
        assert listener.hits() == [], "an SSRF attempt reached the internal listener"


@pytest.fixture
def site_url() -> Iterator[str]:
    """Base URL of the test site on 127.0.0.2, by name."""
    with site() as server:
        yield f"http://site.test:{server.server_address[1]}"


def service(*args: str, env: dict[str, str] | None = None) -> StdioServerParameters:
    """Launch parameters for `python -m micro_mcp.services.http ARGS`."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "micro_mcp.services.http", *args],
        env={**ENV, **(env or {})},
    )


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def exercise(client: Client, tool: str, site_url: str, sentinel: Sentinel) -> dict[str, Any]:
    """List tools, fetch a page, and try three ways in; return what came back."""
    tools = {t.name: t for t in (await client.list_tools()).tools}
    page = await client.call_tool(tool, {"url": f"{site_url}/page.html"})
    internal = f"http://localhost:{sentinel.port}/"
    direct = await client.call_tool(tool, {"url": internal})
    redirect = await client.call_tool(
        tool, {"url": f"{site_url}/redirect?to={quote(internal, safe='')}"}
    )
    numeric = await client.call_tool(tool, {"url": f"http://2130706433:{sentinel.port}/"})
    return {"tools": tools, "page": page, "refused": [direct, redirect, numeric]}


def assert_contract(seen: dict[str, Any], tool: str) -> None:
    """The same observable contract wherever the service is reached from."""
    fetch_text: Tool = seen["tools"][tool]
    assert fetch_text.output_schema is not None
    assert fetch_text.input_schema["required"] == ["url"]
    page: CallToolResult = seen["page"]
    assert not page.is_error, text_of(page)
    assert text_of(page).startswith("# Welcome\n\nFirst & **only** paragraph")
    assert page.structured_content is not None
    assert page.structured_content["title"] == "Test page"
    direct, redirect, numeric = seen["refused"]
    assert direct.is_error and "which is loopback" in text_of(direct)
    assert redirect.is_error and "which is loopback" in text_of(redirect)
    assert numeric.is_error and "numeric form" in text_of(numeric)


async def test_service_alone_over_stdio(site_url: str, sentinel: Sentinel) -> None:
    proxy = f"http://127.0.0.1:{sentinel.port}"
    env = {"HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy, "http_proxy": proxy}
    async with Client(service(*ARGS, env=env)) as client:
        seen = await exercise(client, "fetchText", site_url, sentinel)

    assert set(seen["tools"]) == {"fetchText"}
    assert_contract(seen, "fetchText")


async def test_service_alone_over_streamable_http(site_url: str, sentinel: Sentinel) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "micro_mcp.services.http", *ARGS, "--http", "--port", str(port)]
    process = await anyio.open_process(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **ENV},
    )
    try:
        await wait_listening(port)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            seen = await exercise(client, "fetchText", site_url, sentinel)
    finally:
        process.terminate()
        await reap(process)

    assert_contract(seen, "fetchText")


async def test_service_through_the_gateway(
    tmp_path: Path, site_url: str, sentinel: Sentinel
) -> None:
    services = {
        "http": {"command": "python", "args": ["-m", "micro_mcp.services.http", *ARGS], "env": ENV}
    }
    async with Client(service(*ARGS)) as direct:
        [alone] = (await direct.list_tools()).tools
    async with Client(gateway_params(tmp_path, services)) as client:
        seen = await exercise(client, "http.fetchText", site_url, sentinel)

    assert_contract(seen, "http.fetchText")
    routed: Tool = seen["tools"]["http.fetchText"]
    assert routed.input_schema == alone.input_schema
    assert routed.output_schema == alone.output_schema


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--allow-net", "10.0.0.1/8"], {}, "has host bits set"),
        (["--resolve", "site.test"], {}, "expected HOST=ADDRESS"),
        (["--resolve", "site.test=nowhere"], {}, "does not appear to be an IPv4 or IPv6"),
        ([], {"ALLOWLIST": "2130706433"}, "numeric form"),
        ([], {"ALLOWLIST": "user@example.com"}, "is not a host"),
        (["--max-bytes", "0"], {}, "must be at least 1"),
    ],
)
def test_bad_configuration_stops_the_service_with_a_message(
    args: list[str], env: dict[str, str], message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "micro_mcp.services.http", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert message in done.stderr
