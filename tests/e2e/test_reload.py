"""Hot reload: editing the manifest of a running gateway, with clients connected."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from micro_mcp import codes
from tests.e2e.conftest import alive, demo, gateway_params, parent_of

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


def rewrite(tmp_path: Path, services: dict[str, Any]) -> None:
    """Save the manifest the way editors do: a new file renamed over the old one."""
    draft = tmp_path / "discovery.json.new"
    draft.write_text(json.dumps({"mcpServers": services}))
    draft.replace(tmp_path / "discovery.json")


async def tool_names(client: Client) -> set[str]:
    return {tool.name for tool in (await client.list_tools()).tools}


async def wait_for_tools(client: Client, present: str, absent: str | None = None) -> set[str]:
    """Poll the list until the reload shows: the file is checked once a second."""
    with anyio.fail_after(20):
        while True:
            names = await tool_names(client)
            if present in names and (absent is None or absent not in names):
                return names
            await anyio.sleep(0.2)


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
    params = gateway_params(tmp_path, before)
    async with Client(params, mode="legacy", message_handler=on_message) as client:
        pids = {ns: await pid_of(client, ns) for ns in before}
        napped: list[str] = []

        async def nap_through_the_reload() -> None:
            result = await client.call_tool("keep.nap", {"seconds": 3})
            napped.append(result.structured_content["result"] if result.structured_content else "")

        async with anyio.create_task_group() as tg:
            tg.start_soon(nap_through_the_reload)
            await anyio.sleep(0.3)  # the call is on its way before the file changes
            rewrite(
                tmp_path,
                {"keep": demo(), "change": demo(env={"DEMO_FLAVOUR": "new"}), "fresh": demo()},
            )
            names = await wait_for_tools(client, "fresh.echo", absent="drop.echo")
            with anyio.fail_after(10):
                await changed.wait()
            fresh = await client.call_tool("fresh.echo", {"text": "hi"})
            keep_pid = await pid_of(client, "keep")
            change_pid = await pid_of(client, "change")
            with pytest.raises(MCPError) as dropped:
                await client.call_tool("drop.echo", {"text": "hi"})
    assert {"keep.echo", "change.echo", "fresh.echo"} <= names
    assert fresh.structured_content == {"result": "hi"}
    assert napped == ["rested"], "a call on an untouched service finished through the reload"
    assert keep_pid == pids["keep"], "an unchanged service was not restarted"
    assert change_pid != pids["change"], "a changed entry restarted its service"
    assert dropped.value.error.code == codes.INVALID_PARAMS
    assert not alive(pids["drop"]) and not alive(pids["change"]), "removed processes were reaped"


async def test_a_call_in_flight_on_a_removed_service_fails_at_once(tmp_path: Path) -> None:
    params = gateway_params(tmp_path, {"keep": demo(), "drop": demo()})
    async with Client(params, mode="legacy") as client:
        failure: list[MCPError] = []

        async def long_call() -> None:
            try:
                await client.call_tool("drop.nap", {"seconds": 60})
            except MCPError as exc:
                failure.append(exc)

        with anyio.fail_after(20):  # not the 60 s the call asked for
            async with anyio.create_task_group() as tg:
                tg.start_soon(long_call)
                await anyio.sleep(0.3)
                rewrite(tmp_path, {"keep": demo()})
        still = await client.call_tool("keep.echo", {"text": "here"})
    assert [exc.error.code for exc in failure] == [codes.UPSTREAM_UNAVAILABLE]
    assert still.structured_content == {"result": "here"}


async def test_a_broken_edit_keeps_the_running_services_until_it_is_fixed(tmp_path: Path) -> None:
    params = gateway_params(tmp_path, {"one": demo()})
    async with Client(params, mode="auto") as client:
        (tmp_path / "discovery.json").write_text('{"mcpServers": {"two": {"comand": "x"}}')
        await anyio.sleep(2.5)  # two polls: time enough to have wrongly applied it
        assert "one.echo" in await tool_names(client)
        assert (await client.call_tool("one.echo", {"text": "ok"})).structured_content == {
            "result": "ok"
        }
        rewrite(tmp_path, {"one": demo(), "two": demo()})
        names = await wait_for_tools(client, "two.echo")
    assert "one.echo" in names


async def test_a_2026_listener_hears_of_the_reload(tmp_path: Path) -> None:
    params = gateway_params(tmp_path, {"one": demo()})
    async with Client(params, mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(tools_list_changed=True) as subscription:
            rewrite(tmp_path, {"one": demo(), "two": demo()})
            with anyio.fail_after(20):
                async for _event in subscription:
                    break
        names = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
    assert "two.echo" in names


async def test_sighup_reloads_when_polling_is_off(tmp_path: Path) -> None:
    params = gateway_params(tmp_path, {"one": demo()}, {"reloadInterval": 0})
    async with Client(params, mode="legacy") as client:
        rewrite(tmp_path, {"one": demo(), "two": demo()})
        await anyio.sleep(1.5)
        assert "two.echo" not in await tool_names(client), "no polling: nothing changes yet"
        gateway_pid = parent_of(await pid_of(client, "one"))
        os.kill(gateway_pid, signal.SIGHUP)
        names = await wait_for_tools(client, "two.echo")
    assert "one.echo" in names
