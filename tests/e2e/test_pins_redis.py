"""Pins shared through a real `redis-server` (`state.redis`): the Redis pin store keeps the
SQLite store's contract, an edited entry or Redis gone is a clear error; two gateway processes
each hold a changed tool, `micro-mcp approve` run once approves it on both."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent

from micro_mcp import codes
from micro_mcp.config.state import StateSpec
from micro_mcp.errors import PinStoreError
from micro_mcp.registry.pins import Pin, pin
from micro_mcp.registry.redis_pins import APPROVED, RedisPinStore
from micro_mcp.state.redis_store import open_store
from tests.e2e.conftest import FIXTURES, http_gateway
from tests.e2e.redis_server import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

WEATHER = {"weather": {"command": sys.executable, "args": [str(FIXTURES / "rug_pull_server.py")]}}
_T = TypeVar("_T")


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A `redis-server` of the test's own on a free port, stopped after it."""
    async with redis_server(tmp_path) as server:
        yield server


def _pin(name: str, description: str, namespace: str = "fs") -> Pin:
    found = pin(namespace, "tools", {"name": name, "description": description})
    assert found is not None
    return found


@asynccontextmanager
async def _store(url: str) -> AsyncGenerator[RedisPinStore]:
    async with open_store(StateSpec(redis=url, timeout=0.5)) as shared:
        assert shared is not None
        yield RedisPinStore(shared)


async def _blocking(func: Callable[..., _T], *args: Any) -> _T:
    """A blocking store call, in a worker thread as the gateway makes it."""
    return await anyio.to_thread.run_sync(func, *args)


async def test_the_redis_pin_store_keeps_the_pin_store_contract(redis: RedisServer):
    old, new = _pin("read", "old"), _pin("read", "new")
    other = _pin("read", "x", namespace="fsx")  # a namespace that `fs` is a prefix of
    async with _store(redis.url) as store:
        before = await store.version()
        await _blocking(store.record, "fs", [old], [new])
        await _blocking(store.record, "fsx", [other], [other])
        await _blocking(store.record, "fs", [new], [new])  # never overwrites an approval
        await _blocking(store.record, "fs", [], [new])  # replaces fs's held, not fsx's
        pins = await _blocking(store.load)
        assert pins.approved == {old.key: old, other.key: other}
        assert pins.held == {new.key: new, other.key: other}
        assert await store.version() == before + 2  # each first sight raised it
        done = await _blocking(store.approve, [new.key, ("fs", "tools", "absent")])
        assert done == [(old, new)]
        pins = await _blocking(store.load)
        assert pins.approved == {new.key: new, other.key: other}
        assert pins.held == {other.key: other}
        assert await store.version() == before + 3


async def test_an_edited_entry_in_redis_is_a_clear_error_never_an_empty_store(
    redis: RedisServer,
):
    async with _store(redis.url) as store:
        await _blocking(store.record, "fs", [_pin("read", "x")], [])
        edited = b'["0000","{\\"name\\":\\"read\\",\\"description\\":\\"evil\\"}"]'
        async with open_store(StateSpec(redis=redis.url)) as shared:  # an operator's edit
            assert shared is not None
            await shared.client.hset(  # pyright: ignore[reportUnknownMemberType]
                f"{shared.prefix}{APPROVED}", '["fs","tools","read"]', edited
            )
        with pytest.raises(PinStoreError, match=r"'pins:approved' fails its check.*'read'"):
            await _blocking(store.load)


async def test_redis_down_is_a_pin_store_error_naming_the_server(redis: RedisServer):
    async with _store(redis.url) as store:
        await redis.stop()
        with pytest.raises(PinStoreError, match=rf"127\.0\.0\.1:{redis.port}.*cannot be used"):
            await _blocking(store.load)
        with pytest.raises(PinStoreError, match="cannot be used"):
            await store.version()


@asynccontextmanager
async def _client(url: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient() as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def _tools(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def _until(check: Callable[[], Coroutine[Any, Any, bool]]) -> None:
    """Wait (20 s at most) until `check` holds: another process's doing, seen by polling."""
    with anyio.fail_after(20):
        while not await check():  # noqa: ASYNC110 - no event crosses the process boundary
            await anyio.sleep(0.1)


async def test_a_change_held_on_two_replicas_is_approved_once_and_callable_on_both(
    tmp_path: Path, redis: RedisServer
):
    config = {"state": {"redis": redis.url}, "reloadInterval": 0.2}
    async with AsyncExitStack() as stack:
        clients: list[Client] = []
        for n in range(2):
            folder = tmp_path / f"replica-{n}"
            folder.mkdir()
            url = await stack.enter_async_context(http_gateway(folder, WEATHER, config))
            clients.append(await stack.enter_async_context(_client(url)))
        for client in clients:  # each replica's own service changes `forecast`
            assert "weather.forecast" in await _tools(client)
            await client.call_tool("weather.rug_pull", {})
        for client in clients:
            await _until(lambda c=client: _absent(c))
            with pytest.raises(MCPError) as refused:
                await client.call_tool("weather.forecast", {})
            assert refused.value.error.code == codes.TOOL_HELD

        argv = [sys.executable, "-m", "micro_mcp", "approve"]
        argv += ["--config", str(tmp_path / "replica-0" / "gateway.json")]
        shown = await anyio.run_process(argv, check=False, stdin=subprocess.DEVNULL)
        assert shown.returncode == 0, shown.stderr
        assert b"1 definition(s) held in redis://127.0.0.1:" in shown.stdout
        approved = await anyio.run_process(
            [*argv, "weather.forecast"], check=False, stdin=subprocess.DEVNULL
        )
        assert approved.returncode == 0, approved.stderr
        assert b"approved 1 definition(s)" in approved.stdout

        for client in clients:
            await _until(lambda c=client: _present(c))
            result = await client.call_tool("weather.forecast", {})
            block = result.content[0]
            assert isinstance(block, TextContent) and block.text == "sunny"


async def _absent(client: Client) -> bool:
    return "weather.forecast" not in await _tools(client)


async def _present(client: Client) -> bool:
    return "weather.forecast" in await _tools(client)
