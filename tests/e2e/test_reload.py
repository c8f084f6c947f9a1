"""Hot reload: editing the manifest of a running gateway, with clients connected."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import GatewayLog, alive, demo, gateway_params, logged_client, parent_of

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def rewrite(tmp_path: Path, services: dict[str, Any]) -> None:
    """Save the manifest the way editors do: a new file renamed over the old one."""
    save(tmp_path, json.dumps({"mcpServers": services}))


def save(tmp_path: Path, text: str) -> None:
    """Replace the manifest with `text` in one step, as `rewrite` does."""
    draft = tmp_path / "discovery.json.new"
    draft.write_text(text)
    draft.replace(tmp_path / "discovery.json")


@asynccontextmanager
async def watched(
    tmp_path: Path, services: dict[str, Any], config: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[tuple[Client, GatewayLog]]:
    """A client of a gateway over `services` and the gateway's log, once the gateway watches
    its manifest: an edit made before that could go unseen."""
    params = gateway_params(tmp_path, services, config)
    async with logged_client(params, **options) as (client, log):
        with anyio.fail_after(20):
            await log.next("watching ")
        yield client, log


async def tool_names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def reloaded(log: GatewayLog) -> None:
    """Wait for the gateway to say it applied an edit (the file is checked once a second)."""
    with anyio.fail_after(20):
        await log.next("manifest reloaded:")


async def napping(client: Client, namespace: str, seconds: float, began: anyio.Event) -> str:
    """Call `nap`, setting `began` once the service says it has started."""

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        began.set()

    result = await client.call_tool(
        f"{namespace}.nap", {"seconds": seconds}, progress_callback=on_progress
    )
    return result.structured_content["result"] if result.structured_content else ""


async def pid_of(client: Client, namespace: str) -> int:
    result = await client.call_tool(f"{namespace}.pid", {})
    assert result.structured_content is not None
    return result.structured_content["result"]


async def test_an_edit_starts_stops_and_restarts_only_the_services_that_changed(
    tmp_path: Path,
) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/tools/list_changed":
            changed.set()

    before = {"keep": demo(), "change": demo(), "drop": demo()}
    async with watched(tmp_path, before, mode="legacy", message_handler=on_message) as (
        client,
        log,
    ):
        pids = {ns: await pid_of(client, ns) for ns in before}
        napped: list[str] = []
        began = anyio.Event()

        async def nap_through_the_reload() -> None:
            napped.append(await napping(client, "keep", 3, began))

        async with anyio.create_task_group() as tg:
            tg.start_soon(nap_through_the_reload)
            with anyio.fail_after(10):
                await began.wait()  # the call is on its way before the file changes
            rewrite(
                tmp_path,
                {"keep": demo(), "change": demo(env={"DEMO_FLAVOUR": "new"}), "fresh": demo()},
            )
            await reloaded(log)
            with anyio.fail_after(10):
                await changed.wait()
            names = await tool_names(client)
            fresh = await client.call_tool("fresh.echo", {"text": "hi"})
            keep_pid = await pid_of(client, "keep")
            change_pid = await pid_of(client, "change")
            with pytest.raises(MCPError) as dropped:
                await client.call_tool("drop.echo", {"text": "hi"})
    assert {"keep.echo", "change.echo", "fresh.echo"} <= names and "drop.echo" not in names
    assert fresh.structured_content == {"result": "hi"}
    assert napped == ["rested"], "a call on an untouched service finished through the reload"
    assert keep_pid == pids["keep"], "an unchanged service was not restarted"
    assert change_pid != pids["change"], "a changed entry restarted its service"
    assert dropped.value.error.code == codes.INVALID_PARAMS
    assert not alive(pids["drop"]) and not alive(pids["change"]), "removed processes were reaped"


async def test_a_call_in_flight_on_a_removed_service_fails_at_once(tmp_path: Path) -> None:
    async with watched(tmp_path, {"keep": demo(), "drop": demo()}, mode="legacy") as (client, _):
        failure: list[MCPError] = []
        began = anyio.Event()

        async def long_call() -> None:
            try:
                await napping(client, "drop", 60, began)
            except MCPError as exc:
                failure.append(exc)

        with anyio.fail_after(20):  # not the 60 s the call asked for
            async with anyio.create_task_group() as tg:
                tg.start_soon(long_call)
                await began.wait()
                rewrite(tmp_path, {"keep": demo()})
        still = await client.call_tool("keep.echo", {"text": "here"})
    assert [exc.error.code for exc in failure] == [codes.UPSTREAM_UNAVAILABLE]
    assert still.structured_content == {"result": "here"}


async def test_a_broken_edit_keeps_the_running_services_until_it_is_fixed(tmp_path: Path) -> None:
    async with watched(tmp_path, {"one": demo()}, mode="auto") as (client, log):
        save(tmp_path, '{"mcpServers": {"two": {"comand": "x"}}')
        with anyio.fail_after(20):
            await log.next("manifest not reloaded")
        assert "one.echo" in await tool_names(client)
        assert (await client.call_tool("one.echo", {"text": "ok"})).structured_content == {
            "result": "ok"
        }
        rewrite(tmp_path, {"one": demo(), "two": demo()})
        await reloaded(log)
        names = await tool_names(client)
    assert {"one.echo", "two.echo"} <= names


async def test_a_2026_listener_hears_of_the_reload(tmp_path: Path) -> None:
    async with watched(tmp_path, {"one": demo()}, mode="auto") as (client, _):
        assert client.protocol_version == "2026-07-28"
        async with client.listen(tools_list_changed=True) as subscription:
            rewrite(tmp_path, {"one": demo(), "two": demo()})
            with anyio.fail_after(20):
                async for _event in subscription:
                    break
        names = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
    assert "two.echo" in names


async def test_sighup_reloads_when_polling_is_off(tmp_path: Path) -> None:
    polling_off = {"reloadInterval": 0}
    async with watched(tmp_path, {"one": demo()}, polling_off, mode="legacy") as (client, log):
        rewrite(tmp_path, {"one": demo(), "two": demo()})
        # Nothing signals that something did not happen: give a wrong reload (a poll at the
        # default 1 s interval) time to show, and end the wait early if it does.
        with anyio.move_on_after(1.5):
            await log.next("manifest reloaded:")
        assert "two.echo" not in await tool_names(client), "no polling: nothing changes yet"
        gateway_pid = parent_of(await pid_of(client, "one"))
        os.kill(gateway_pid, signal.SIGHUP)
        await reloaded(log)
        names = await tool_names(client)
    assert {"one.echo", "two.echo"} <= names
