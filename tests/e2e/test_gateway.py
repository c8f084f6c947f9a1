"""The gateway as a client sees it: a real gateway process over real services, driven by the SDK."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import CreateMessageResult, PromptReference, ResourceLink, TextContent

from micro_mcp import codes
from tests.e2e.conftest import demo, gateway_argv, gateway_params, leaves, wire

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODES = ["auto", "legacy"]


@pytest.mark.parametrize("mode", MODES)
async def test_catalog_merges_services_under_their_namespaces(tmp_path: Path, mode: str) -> None:
    params = gateway_params(tmp_path, {"one": demo("--name", "one"), "two": demo("--name", "two")})
    async with Client(params, mode=mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        prompts = {prompt.name for prompt in (await client.list_prompts()).prompts}
        resources = {r.uri for r in (await client.list_resources()).resources}
        templates = {
            t.uri_template for t in (await client.list_resource_templates()).resource_templates
        }
    assert {"one.echo", "two.echo", "one.slow", "two.grow"} <= tools
    assert prompts == {"one.greet", "two.greet"}
    assert resources == {"one+demo://static", "two+demo://static"}
    assert templates == {"one+demo://item/{item_id}", "two+demo://item/{item_id}"}


@pytest.mark.parametrize("mode", MODES)
async def test_calls_reads_prompts_and_completions_reach_the_owning_service(
    tmp_path: Path, mode: str
) -> None:
    params = gateway_params(tmp_path, {"one": demo("--name", "one"), "two": demo("--name", "two")})
    async with Client(params, mode=mode) as client:
        echoed = await client.call_tool("two.echo", {"text": "hi"})
        read = await client.read_resource("one+demo://item/7")
        prompt = await client.get_prompt("two.greet", {"person": "Ada"})
        completion = await client.complete(
            PromptReference(type="ref/prompt", name="one.greet"), {"name": "person", "value": "a"}
        )
        linked = await client.call_tool("one.link", {"path": "9"})
        followed = None
        if isinstance(linked.content[0], ResourceLink):
            followed = await client.read_resource(linked.content[0].uri)
    assert echoed.structured_content == {"result": "hi"}
    assert read.contents[0].uri == "one+demo://item/7"
    assert getattr(read.contents[0], "text", None) == "item 7"
    assert "Ada" in getattr(prompt.messages[0].content, "text", "")
    assert completion.completion.values == ["alice", "bob"]
    assert followed is not None and getattr(followed.contents[0], "text", None) == "item 9"


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_gets_invalid_params_and_the_gateway_serves_on(
    tmp_path: Path, mode: str
) -> None:
    async with Client(gateway_params(tmp_path, {"one": demo()}), mode=mode) as client:
        with pytest.raises(MCPError) as unknown_tool:
            await client.call_tool("one.nope", {})
        with pytest.raises(MCPError) as unknown_namespace:
            await client.read_resource("zzz+demo://static")
        assert (await client.call_tool("one.echo", {"text": "still here"})).structured_content == {
            "result": "still here"
        }
    assert unknown_tool.value.error.code == codes.INVALID_PARAMS
    assert unknown_namespace.value.error.code == codes.INVALID_PARAMS


@pytest.mark.parametrize("mode", MODES)
async def test_policy_hides_and_denies_what_it_does_not_allow(tmp_path: Path, mode: str) -> None:
    audit = tmp_path / "audit.jsonl"
    config = {
        "policy": {"allow": ["one.*", "two.echo"], "deny": ["one.crash"]},
        "audit": {"path": str(audit)},
    }
    params = gateway_params(tmp_path, {"one": demo(), "two": demo()}, config)
    async with Client(params, mode=mode) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as denied:
            await client.call_tool("two.shout", {"text": "x"})
        with pytest.raises(MCPError) as denied_too:
            await client.call_tool("one.crash", {})
        allowed = await client.call_tool("two.echo", {"text": "ok"})
    assert "two.echo" in tools and "one.echo" in tools
    assert "two.shout" not in tools and "one.crash" not in tools
    assert denied.value.error.code == codes.POLICY_DENIED
    assert denied_too.value.error.code == codes.POLICY_DENIED
    assert allowed.structured_content == {"result": "ok"}
    lines = audit.read_text().splitlines()
    assert any('"decision":"deny"' in line and '"name":"two.shout"' in line for line in lines)
    assert any('"outcome":"denied"' in line for line in lines)


async def test_a_service_that_fails_to_start_is_reported_and_the_rest_serve(tmp_path: Path) -> None:
    services = {
        "broken": {"command": "/nonexistent/server"},
        "exits": {"command": "python", "args": ["-c", "raise SystemExit(1)"], "startupTimeout": 5},
        "one": demo(),
    }
    async with Client(gateway_params(tmp_path, services)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        with pytest.raises(MCPError) as error:
            await client.call_tool("broken.anything", {})
        result = await client.call_tool("one.echo", {"text": "up"})
    assert "one.echo" in tools and not any(name.startswith(("broken.", "exits.")) for name in tools)
    assert error.value.error.code == codes.INVALID_PARAMS
    assert result.structured_content == {"result": "up"}


async def test_a_service_that_dies_mid_call_fails_that_call_and_is_restarted(
    tmp_path: Path,
) -> None:
    services = {"one": demo(restartDelay=1.0), "two": demo()}
    async with Client(gateway_params(tmp_path, services)) as client:
        with pytest.raises(MCPError) as error:
            await client.call_tool("one.crash", {})
        with pytest.raises(MCPError) as meanwhile:
            await client.call_tool("one.echo", {"text": "x"})  # inside the restart delay
        other = await client.call_tool("two.echo", {"text": "fine"})
        with anyio.fail_after(20):
            while True:  # the restart happens in another process: poll until it answers
                try:
                    back = await client.call_tool("one.echo", {"text": "back"})
                    break
                except MCPError as exc:
                    assert exc.error.code == codes.UPSTREAM_UNAVAILABLE
                    await anyio.sleep(0.2)
    assert error.value.error.code == codes.UPSTREAM_UNAVAILABLE
    assert meanwhile.value.error.code == codes.UPSTREAM_UNAVAILABLE
    assert other.structured_content == {"result": "fine"}
    assert back.structured_content == {"result": "back"}


@pytest.mark.parametrize("mode", MODES)
async def test_progress_reaches_the_caller_and_cancellation_reaches_the_service(
    tmp_path: Path, mode: str
) -> None:
    marker = tmp_path / "cancelled"
    progress: list[float] = []
    got_progress = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)
        if len(progress) == 3:
            got_progress.set()

    async with Client(gateway_params(tmp_path, {"one": demo()}), mode=mode) as client:
        with anyio.fail_after(20):
            async with anyio.create_task_group() as tg:

                async def call() -> None:
                    await client.call_tool(
                        "one.slow",
                        {"steps": 3, "marker": str(marker)},
                        progress_callback=on_progress,
                    )

                tg.start_soon(call)
                await got_progress.wait()
                tg.cancel_scope.cancel()
            # The service is another process: the file it writes when cancelled is the only signal.
            while not marker.exists():  # noqa: ASYNC110
                await anyio.sleep(0.05)
        assert (await client.call_tool("one.echo", {"text": "after"})).structured_content == {
            "result": "after"
        }
    assert progress == [1, 2, 3]


async def test_list_changed_from_a_service_reaches_a_handshake_client(tmp_path: Path) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if (
            getattr(getattr(message, "root", message), "method", None)
            == "notifications/tools/list_changed"
        ):
            changed.set()

    async with Client(
        gateway_params(tmp_path, {"one": demo()}), mode="legacy", message_handler=on_message
    ) as client:
        await client.call_tool("one.grow", {"tool_name": "fresh"})
        with anyio.fail_after(10):
            await changed.wait()
        tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "one.fresh" in tools


async def test_list_changed_from_a_service_reaches_a_2026_listener(tmp_path: Path) -> None:
    async with Client(gateway_params(tmp_path, {"one": demo()}), mode="auto") as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(tools_list_changed=True) as subscription:
            await client.call_tool("one.grow", {"tool_name": "fresh"})
            with anyio.fail_after(10):
                async for _event in subscription:
                    break
        tools = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
    assert "one.fresh" in tools


@pytest.mark.parametrize("mode", MODES)
async def test_long_catalogs_are_drained_upstream_and_paged_by_the_gateway(
    tmp_path: Path, mode: str
) -> None:
    params = gateway_params(tmp_path, {"big": demo("--tools", "250")}, {"pageSize": 100})
    async with Client(params, mode=mode) as client:
        names: list[str] = []
        pages = 0
        cursor = None
        while True:
            page = await client.list_tools(cursor=cursor)
            names += [tool.name for tool in page.tools]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    assert pages == 3
    assert len(names) == len(set(names))
    assert {f"big.noop{number}" for number in range(250)} <= set(names)
    assert "big.noop249" in names


async def test_wrong_or_missing_token_is_refused_and_the_right_one_admitted(tmp_path: Path) -> None:
    config = {"token": "s3cret-token-0123456789"}
    refused: list[MCPError] = []
    try:
        async with Client(
            gateway_params(
                tmp_path, {"one": demo()}, config, env={"MICRO_MCP_TOKEN": "wrong-token-0123456789"}
            ),
            mode="legacy",
        ):
            pass
    except* MCPError as group:  # the SDK client raises from inside its task group
        refused = [e for e in leaves(group) if isinstance(e, MCPError)]
    admitted = gateway_params(
        tmp_path, {"one": demo()}, config, env={"MICRO_MCP_TOKEN": "s3cret-token-0123456789"}
    )
    async with Client(admitted, mode="legacy") as client:
        result = await client.call_tool("one.echo", {"text": "in"})
    assert [e.error.code for e in refused] == [codes.UNAUTHENTICATED]
    assert result.structured_content == {"result": "in"}


async def test_malformed_input_gets_json_rpc_errors_and_the_gateway_serves_on(
    tmp_path: Path,
) -> None:
    argv = gateway_argv(tmp_path, {"one": demo()}, {"maxMessageBytes": 32 * 1024})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.send_raw(b"this is not json\n")
        not_json = await gateway.receive()
        await gateway.send_raw(b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]\n')
        batch = await gateway.receive()
        await gateway.send_raw(b'{"jsonrpc":"2.0","id":7,"method":42}\n')
        bad_method = await gateway.receive()
        await gateway.send_raw(
            b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"'
            + b"x" * 40_000
            + b'"}}\n'
        )
        oversized = await gateway.receive()
        await gateway.initialize()
        unknown_method = await gateway.request(9, "no/such/method")
        no_name = await gateway.request(10, "tools/call", {"arguments": {}})
        echoed = await gateway.request(
            11, "tools/call", {"name": "one.echo", "arguments": {"text": "alive"}}
        )
    assert not_json == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": codes.PARSE_ERROR, "message": not_json["error"]["message"]},
    }
    assert batch["error"]["code"] == codes.INVALID_REQUEST
    assert bad_method["id"] == 7 and bad_method["error"]["code"] == codes.INVALID_REQUEST
    assert oversized["error"]["code"] == codes.MESSAGE_TOO_LARGE
    assert unknown_method["error"]["code"] == codes.METHOD_NOT_FOUND
    assert no_name["error"]["code"] == codes.INVALID_PARAMS
    assert echoed["result"]["structuredContent"] == {"result": "alive"}


async def test_requests_before_initialize_are_refused_and_2026_rules_enforced(
    tmp_path: Path,
) -> None:
    argv = gateway_argv(tmp_path, {"one": demo()})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        early = await gateway.request(1, "tools/list")
        bad_version = await gateway.request(
            2,
            "server/discover",
            {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2099-01-01",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
        )
        discover = await gateway.request(
            3,
            "server/discover",
            {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
        )
        bare = await gateway.request(4, "tools/list")
        ping = await gateway.request(
            5,
            "ping",
            {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                }
            },
        )
        late_initialize = await gateway.request(
            6,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "x", "version": "1"},
            },
        )
    assert early["error"]["code"] == codes.INVALID_REQUEST
    assert bad_version["error"]["code"] == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert bad_version["error"]["data"] == {"supported": ["2026-07-28"], "requested": "2099-01-01"}
    result = discover["result"]
    assert result["supportedVersions"] == ["2026-07-28"] and result["resultType"] == "complete"
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "micro-mcp"
    assert "ttlMs" in result and "cacheScope" in result
    assert bare["error"]["code"] == codes.INVALID_PARAMS
    assert ping["error"]["code"] == codes.METHOD_NOT_FOUND
    assert late_initialize["error"]["code"] == codes.UNSUPPORTED_PROTOCOL_VERSION


async def test_log_lines_reach_a_handshake_client_with_the_service_namespace(
    tmp_path: Path,
) -> None:
    received: list[Any] = []

    async def on_log(params: Any) -> None:
        received.append(params)

    params = gateway_params(tmp_path, {"one": demo()})
    async with Client(params, mode="legacy", logging_callback=on_log) as client:
        with pytest.warns(MCPDeprecationWarning):  # logging is deprecated in 2026-07-28, not gone
            await client.set_logging_level("warning")
        shouted = await client.call_tool("one.shout", {"text": "careful"})
    assert shouted.structured_content == {"result": "CAREFUL"}
    assert [(p.level, p.logger, p.data) for p in received] == [("warning", "one.shout", "careful")]


async def test_log_lines_reach_a_2026_client_only_when_its_request_asks(tmp_path: Path) -> None:
    received: list[Any] = []

    async def on_log(params: Any) -> None:
        received.append(params)

    params = gateway_params(tmp_path, {"one": demo()})
    async with Client(params, mode="auto", logging_callback=on_log) as client:
        await client.call_tool("one.shout", {"text": "quiet"})
        silent = list(received)
        level = {"io.modelcontextprotocol/logLevel": "info"}
        await client.call_tool("one.shout", {"text": "loud"}, meta=level)  # type: ignore[arg-type]
    assert silent == []
    assert [(p.logger, p.data) for p in received] == [("one.shout", "loud")]


async def test_resource_updates_reach_a_handshake_subscriber_under_the_exposed_uri(
    tmp_path: Path,
) -> None:
    updated: list[str] = []
    got = anyio.Event()

    async def on_message(message: Any) -> None:
        inner = getattr(message, "root", message)
        if getattr(inner, "method", None) == "notifications/resources/updated":
            updated.append(str(inner.params.uri))
            got.set()

    params = gateway_params(tmp_path, {"one": demo(), "two": demo()})
    async with Client(params, mode="legacy", message_handler=on_message) as client:
        with pytest.warns(MCPDeprecationWarning):  # removed in 2026-07-28, alive before it
            await client.subscribe_resource("two+demo://item/5")
        await client.call_tool("two.touch", {"item_id": "6"})  # not subscribed: not delivered
        await client.call_tool("two.touch", {"item_id": "5"})
        with anyio.fail_after(10):
            await got.wait()
        with pytest.warns(MCPDeprecationWarning):
            await client.unsubscribe_resource("two+demo://item/5")
    assert updated == ["two+demo://item/5"]


async def test_resource_updates_reach_a_2026_listener_under_the_exposed_uri(tmp_path: Path) -> None:
    events: list[object] = []
    params = gateway_params(tmp_path, {"one": demo()})
    async with (
        Client(params, mode="auto") as client,
        client.listen(resource_subscriptions=["one+demo://item/5"]) as subscription,
    ):
        await client.call_tool("one.touch", {"item_id": "5"})
        with anyio.fail_after(10):
            async for event in subscription:
                events.append(event)
                break
    assert [getattr(event, "uri", None) for event in events] == ["one+demo://item/5"]


async def test_a_service_request_reaches_the_handshake_client_that_caused_it(
    tmp_path: Path,
) -> None:
    asked: list[str] = []

    async def sample(context: Any, params: Any) -> CreateMessageResult:
        asked.append(params.messages[0].content.text)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="42"), model="test"
        )

    # per-client: this handshake-era client gets a session of its own, in its own era, over
    # which the service can ask it (the shared session speaks 2026-07-28, which cannot)
    params = gateway_params(tmp_path, {"one": demo(sessions="per-client")})
    async with Client(params, mode="legacy", sampling_callback=sample) as client:
        answered = await client.call_tool("one.ask", {"question": "meaning of life?"})
    assert asked == ["meaning of life?"]
    assert answered.structured_content == {"result": "42"}


async def test_a_service_request_to_a_2026_client_gets_a_clear_error_not_a_hang(
    tmp_path: Path,
) -> None:
    # Pinned to the handshake era, the service asks by request, which 2026-07-28 cannot carry.
    services = {"one": demo(protocol="handshake")}
    async with Client(gateway_params(tmp_path, services), mode="auto") as client:
        with anyio.fail_after(20), pytest.raises(MCPError) as refused:
            await client.call_tool("one.ask", {"question": "anyone?"})
    # The service passes the gateway's refusal on as its answer; the text names what is missing.
    assert refused.value.error.code == codes.METHOD_NOT_FOUND
    assert "2026-07-28" in refused.value.error.message


async def test_a_full_service_refuses_more_calls_at_once_instead_of_queueing_without_end(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "cancelled"
    running = anyio.Event()

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        running.set()

    services = {"one": demo(maxConcurrent=1, maxQueued=0), "two": demo()}
    async with Client(gateway_params(tmp_path, services)) as client:
        async with anyio.create_task_group() as tg:

            async def hold_the_slot() -> None:
                arguments = {"steps": 1, "marker": str(marker)}
                await client.call_tool("one.slow", arguments, progress_callback=on_progress)

            tg.start_soon(hold_the_slot)
            with anyio.fail_after(10):
                await running.wait()
            with pytest.raises(MCPError) as refused:
                await client.call_tool("one.echo", {"text": "no room"})
            elsewhere = await client.call_tool("two.echo", {"text": "room here"})
            tg.cancel_scope.cancel()
        # The slot frees once the cancelled call has unwound in the gateway, which may be a
        # moment after the cancellation notice left the client.
        with anyio.fail_after(10):
            while True:
                try:
                    after = await client.call_tool("one.echo", {"text": "room again"})
                    break
                except MCPError as exc:
                    assert exc.error.code == codes.OVERLOADED
                    await anyio.sleep(0.05)
    assert refused.value.error.code == codes.OVERLOADED
    assert elsewhere.structured_content == {"result": "room here"}
    assert after.structured_content == {"result": "room again"}


async def test_a_per_tool_timeout_answers_the_caller_and_cancels_the_service(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "cancelled"
    services = {"one": demo(toolTimeouts={"slow": 0.5})}
    async with Client(gateway_params(tmp_path, services)) as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as timed_out:
            await client.call_tool("one.slow", {"steps": 1, "marker": str(marker)})
        with anyio.fail_after(10):
            # The service is another process: the file it writes when cancelled is the signal.
            while not marker.exists():  # noqa: ASYNC110
                await anyio.sleep(0.05)
        quick = await client.call_tool("one.echo", {"text": "not timed out"})
    assert timed_out.value.error.code == codes.UPSTREAM_TIMEOUT
    assert quick.structured_content == {"result": "not timed out"}


async def test_a_reply_over_the_size_limit_is_refused_at_once_and_smaller_ones_pass(
    tmp_path: Path,
) -> None:
    params = gateway_params(tmp_path, {"one": demo()}, {"maxMessageBytes": 64 * 1024})
    async with Client(params, mode="legacy") as client:
        with anyio.fail_after(10), pytest.raises(MCPError) as too_big:
            await client.call_tool("one.big", {"size": 200_000})
        fits = await client.call_tool("one.big", {"size": 20_000})
    assert too_big.value.error.code == codes.MESSAGE_TOO_LARGE
    assert fits.structured_content == {"result": "x" * 20_000}


async def test_a_failing_service_trips_its_breaker_and_a_probe_closes_it(tmp_path: Path) -> None:
    marker = tmp_path / "cancelled"
    services = {"one": demo(toolTimeouts={"slow": 0.3}, breakerFailures=2, breakerCooldown=1.0)}
    async with Client(gateway_params(tmp_path, services)) as client:
        codes_seen = []
        for _ in range(2):
            with pytest.raises(MCPError) as failed:
                await client.call_tool("one.slow", {"steps": 1, "marker": str(marker)})
            codes_seen.append(failed.value.error.code)
        with pytest.raises(MCPError) as fast:
            await client.call_tool("one.echo", {"text": "would work"})  # refused unasked
        with anyio.fail_after(10):
            while True:  # the cooldown runs on the gateway's clock: poll until the probe passes
                try:
                    back = await client.call_tool("one.echo", {"text": "probe"})
                    break
                except MCPError as exc:
                    assert exc.error.code == codes.UPSTREAM_UNAVAILABLE
                    await anyio.sleep(0.2)
    assert codes_seen == [codes.UPSTREAM_TIMEOUT, codes.UPSTREAM_TIMEOUT]
    assert fast.value.error.code == codes.UPSTREAM_UNAVAILABLE
    assert "circuit open" in fast.value.error.message
    assert back.structured_content == {"result": "probe"}


async def test_sigterm_lets_calls_in_flight_finish_then_stops(tmp_path: Path) -> None:
    argv = gateway_argv(tmp_path, {"one": demo()})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        nap = {"name": "one.nap", "arguments": {"seconds": 1.0}}
        await gateway.send({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": nap})
        await gateway.request(6, "ping")  # the call is in flight before the signal
        gateway.process.send_signal(signal.SIGTERM)
        finished = await gateway.receive()
        with anyio.fail_after(15):
            code = await gateway.process.wait()
    assert finished["id"] == 5 and finished["result"]["structuredContent"] == {"result": "rested"}
    assert code == 0


async def test_closing_stdin_ends_the_gateway_and_its_services(tmp_path: Path) -> None:
    argv = gateway_argv(tmp_path, {"one": demo()})
    async with wire(argv, tmp_path / "stderr.txt") as gateway:
        await gateway.initialize()
        assert gateway.process.stdin is not None
        await gateway.process.stdin.aclose()
        with anyio.fail_after(10):
            code = await gateway.process.wait()
    assert code == 0


async def test_resource_limits_apply_to_a_service(tmp_path: Path) -> None:
    limits = {"openFiles": 100, "memoryMB": 4096}
    async with Client(gateway_params(tmp_path, {"one": demo(limits=limits)})) as client:
        seen = await client.call_tool("one.rlimits", {})
    assert seen.structured_content == {"open_files": 100, "address_space": 4096 * 1024 * 1024}


async def test_stopping_the_gateway_stops_what_its_services_spawned(tmp_path: Path) -> None:
    async with Client(gateway_params(tmp_path, {"one": demo()})) as client:
        spawned = await client.call_tool("one.spawn", {})
    assert spawned.structured_content is not None
    child = spawned.structured_content["result"]
    with anyio.fail_after(15):
        while True:  # another process: whether the pid still exists is the only signal
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                break
            await anyio.sleep(0.1)
