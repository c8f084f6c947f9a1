"""The gateway over Streamable HTTP: real gateway processes, the SDK client, and raw requests."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

from micro_mcp import codes
from tests.e2e.conftest import (
    DEMO,
    demo,
    free_port,
    gateway_argv,
    gateway_params,
    http_gateway,
    parent_of,
    wait_listening,
)
from tests.e2e.test_isolation import peak_rss

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "http-test-token-0123456789"
OTHER = "other-principal-token-0123456789"
CONFIG = {"token": TOKEN, "principals": {"other": {"token": OTHER}}}
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _initialize(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }


def _modern(request_id: int, method: str, **params: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": method,
        "params": {"_meta": MODERN_META, **params},
    }


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_sdk_client_lists_calls_and_gets_progress_over_http(
    tmp_path: Path, mode: str
) -> None:
    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    marker = tmp_path / "cancelled"
    async with http_gateway(tmp_path, {"one": demo(), "two": demo()}, CONFIG) as url:
        http = httpx2.AsyncClient(headers=AUTH)
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            version = client.protocol_version
            tools = {tool.name for tool in (await client.list_tools()).tools}
            echoed = await client.call_tool("two.echo", {"text": "over http"})
            read = await client.read_resource("one+demo://item/3")
            with anyio.move_on_after(3):
                await client.call_tool(
                    "one.slow", {"steps": 2, "marker": str(marker)}, progress_callback=on_progress
                )
    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert {"one.echo", "two.echo", "one.slow"} <= tools
    assert echoed.structured_content == {"result": "over http"}
    assert getattr(read.contents[0], "text", None) == "item 3"
    assert progress == [1, 2]


async def test_list_changed_reaches_a_handshake_client_on_its_get_stream(tmp_path: Path) -> None:
    changed = anyio.Event()

    async def on_message(message: Any) -> None:
        if (
            getattr(getattr(message, "root", message), "method", None)
            == "notifications/tools/list_changed"
        ):
            changed.set()

    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        http = httpx2.AsyncClient(headers=AUTH)
        async with (
            http,
            Client(
                streamable_http_client(url, http_client=http),
                mode="legacy",
                message_handler=on_message,
            ) as client,
        ):
            await client.call_tool("one.grow", {"tool_name": "late"})
            with anyio.fail_after(10):
                await changed.wait()
            tools = {tool.name for tool in (await client.list_tools()).tools}
    assert "one.late" in tools


async def test_list_changed_reaches_a_2026_listener_over_http(tmp_path: Path) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        http = httpx2.AsyncClient(headers=AUTH)
        async with (
            http,
            Client(streamable_http_client(url, http_client=http), mode="auto") as client,
        ):
            async with client.listen(tools_list_changed=True) as subscription:
                await client.call_tool("one.grow", {"tool_name": "later"})
                with anyio.fail_after(10):
                    async for _event in subscription:
                        break
            tools = {tool.name for tool in (await client.list_tools(cache_mode="refresh")).tools}
    assert "one.later" in tools


async def test_bad_http_input_gets_the_right_status_and_the_gateway_serves_on(
    tmp_path: Path,
) -> None:
    config = {**CONFIG, "http": {"maxBodyBytes": 4096}}
    async with http_gateway(tmp_path, {"one": demo()}, config) as url, httpx2.AsyncClient() as http:
        headers = {**AUTH, **ACCEPT}
        body = json.dumps(_initialize())
        no_token = await http.post(url, content=body, headers=ACCEPT)
        wrong_token = await http.post(
            url, content=body, headers={**ACCEPT, "Authorization": "Bearer nope"}
        )
        bad_origin = await http.post(
            url, content=body, headers={**headers, "Origin": "https://evil.example"}
        )
        bad_host = await http.post(url, content=body, headers={**headers, "Host": "evil.example"})
        not_json = await http.post(url, content="{nope", headers=headers)
        batch = await http.post(url, content=json.dumps([_initialize()]), headers=headers)
        wrong_type = await http.post(
            url, content=body, headers={**headers, "Content-Type": "text/plain"}
        )
        wrong_accept = await http.post(
            url, content=body, headers={**headers, "Accept": "text/html"}
        )
        oversized = await http.post(url, content=json.dumps({"x": "y" * 10_000}), headers=headers)
        no_session = await http.post(
            url,
            content=json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            headers=headers,
        )
        unknown_session = await http.post(
            url,
            content=json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
            headers={**headers, "Mcp-Session-Id": "nope"},
        )
        put = await http.put(url, content=body, headers=headers)
        get_without_session = await http.get(url, headers={**AUTH, "Accept": "text/event-stream"})
        modern_mismatch = await http.post(
            url,
            content=json.dumps(_modern(3, "tools/list")),
            headers={**headers, "Mcp-Method": "prompts/list", "MCP-Protocol-Version": "2026-07-28"},
        )
        modern_unknown = await http.post(
            url,
            content=json.dumps(_modern(4, "no/such")),
            headers={**headers, "Mcp-Method": "no/such", "MCP-Protocol-Version": "2026-07-28"},
        )
        old_version = {**MODERN_META, "io.modelcontextprotocol/protocolVersion": "2099-01-01"}
        modern_version = await http.post(
            url,
            content=json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 5,
                    "method": "tools/list",
                    "params": {"_meta": old_version},
                }
            ),
            headers={**headers, "Mcp-Method": "tools/list", "MCP-Protocol-Version": "2099-01-01"},
        )
        modern_ok = await http.post(
            url,
            content=json.dumps(
                _modern(6, "tools/call", name="one.echo", arguments={"text": "fine"})
            ),
            headers={
                **headers,
                "Mcp-Method": "tools/call",
                "Mcp-Name": "one.echo",
                "MCP-Protocol-Version": "2026-07-28",
            },
        )
        health = await http.get(url.replace("/mcp", "/healthz"))
        ready = await http.get(url.replace("/mcp", "/readyz"))
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"].startswith("Bearer")
    assert no_token.json()["error"]["code"] == codes.UNAUTHENTICATED
    assert wrong_token.status_code == 401
    assert bad_origin.status_code == 403
    assert bad_host.status_code == 421
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == codes.PARSE_ERROR
    assert batch.status_code == 400 and batch.json()["error"]["code"] == codes.INVALID_REQUEST
    assert wrong_type.status_code == 415
    assert wrong_accept.status_code == 406
    assert oversized.status_code == 413
    assert no_session.status_code == 400
    assert unknown_session.status_code == 404
    assert put.status_code == 405
    assert get_without_session.status_code == 405
    assert (
        modern_mismatch.status_code == 400
        and modern_mismatch.json()["error"]["code"] == codes.HEADER_MISMATCH
    )
    assert (
        modern_unknown.status_code == 404
        and modern_unknown.json()["error"]["code"] == codes.METHOD_NOT_FOUND
    )
    assert modern_version.status_code == 400
    assert modern_version.json()["error"]["code"] == codes.UNSUPPORTED_PROTOCOL_VERSION
    assert modern_ok.status_code == 200
    assert modern_ok.json()["result"]["structuredContent"] == {"result": "fine"}
    assert health.status_code == 200 and ready.json() == {
        "ready": True,
        "degraded": False,
        "services": {"one": "ready"},
    }


async def test_whitespace_around_a_header_value_is_not_part_of_it(tmp_path: Path) -> None:
    # RFC 9110 section 5.5; the gateway's uvicorn parser (httptools) hands the spaces on. Raw
    # bytes on a socket: an HTTP client library would trim or refuse them before they leave.
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        call = _modern(1, "tools/call", name="one.echo", arguments={"text": "spaced"})
        body = json.dumps(call).encode()
        host, port = url.split("//")[1].split("/")[0].split(":")
        head = [
            "POST /mcp HTTP/1.1",
            f"Host: {host}:{port}",
            f"Authorization: Bearer {TOKEN}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            "MCP-Protocol-Version: 2026-07-28",
            "Mcp-Method:  tools/call ",
            "Mcp-Name: \t one.echo  ",
            f"Content-Length: {len(body)}",
            "Connection: close",
        ]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        answer = b""
        with anyio.fail_after(20):
            async with await anyio.connect_tcp(host, int(port)) as stream:
                await stream.send(raw)
                with contextlib.suppress(anyio.EndOfStream):
                    while True:
                        answer += await stream.receive()
    status, _, content = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), answer
    assert json.loads(content)["result"]["structuredContent"] == {"result": "spaced"}


async def test_a_task_request_whose_mcp_name_is_not_its_task_id_is_refused(tmp_path: Path) -> None:
    # The Tasks extension names a task by its taskId in Mcp-Name; the SDK's ladder checks only
    # tools/call, prompts/get and resources/read.
    headers = {**AUTH, **ACCEPT, "Mcp-Method": "tasks/get", "MCP-Protocol-Version": "2026-07-28"}
    body = json.dumps(_modern(1, "tasks/get", taskId="task-1"))
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url, httpx2.AsyncClient() as http:
        other = await http.post(url, content=body, headers={**headers, "Mcp-Name": "task-2"})
    assert other.status_code == 400 and other.json()["error"]["code"] == codes.HEADER_MISMATCH


async def test_sessions_are_bound_to_their_principal_and_end_on_delete(tmp_path: Path) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url, httpx2.AsyncClient() as http:
        headers = {**AUTH, **ACCEPT}
        opened = await http.post(url, content=json.dumps(_initialize()), headers=headers)
        session = {
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        listing = json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        mine = await http.post(url, content=listing, headers={**headers, **session})
        theirs = await http.post(
            url, content=listing, headers={**ACCEPT, **session, "Authorization": f"Bearer {OTHER}"}
        )
        deleted = await http.delete(url, headers={**AUTH, **session})
        after = await http.post(url, content=listing, headers={**headers, **session})
    assert opened.status_code == 200 and len(opened.headers["mcp-session-id"]) >= 32
    assert mine.status_code == 200 and "one.echo" in mine.text
    assert theirs.status_code == 404
    assert deleted.status_code == 200
    assert after.status_code == 404


async def test_a_dropped_response_stream_resumes_with_last_event_id(tmp_path: Path) -> None:
    marker = tmp_path / "cancelled"
    async with (
        http_gateway(tmp_path, {"one": demo()}, CONFIG) as url,
        httpx2.AsyncClient(timeout=20) as http,
    ):
        headers = {**AUTH, **ACCEPT}
        opened = await http.post(url, content=json.dumps(_initialize()), headers=headers)
        session = {
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        call = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {
                "name": "one.slow",
                "arguments": {"steps": 3, "marker": str(marker)},
                "_meta": {"progressToken": "p"},
            },
        }
        first_id = None
        lines: list[str] = []
        async with http.stream(
            "POST", url, content=json.dumps(call), headers={**headers, **session}
        ) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith("id: ") and lines[:1] != [line]:
                    first_id = line[4:]
                if line.startswith("data: {") and first_id is not None:
                    break  # drop the connection after the first message
        # A 2025-11-25 stream opens with a priming event: an id to resume from, no message.
        assert lines[:4] == [f"id: {lines[0][4:]}", "retry: 1000", "data: ", ""]
        assert first_id is not None
        resumed: list[dict[str, Any]] = []
        get_headers = {**AUTH, **session, "Accept": "text/event-stream", "Last-Event-ID": first_id}
        with anyio.move_on_after(5):
            async with http.stream("GET", url, headers=get_headers) as replay:
                async for line in replay.aiter_lines():
                    if line.startswith("data: "):
                        resumed.append(json.loads(line[6:]))
                        if len(resumed) == 2:
                            break
    assert [m["params"]["progress"] for m in resumed] == [2, 3]
    assert all(m["params"]["progressToken"] == "p" for m in resumed)


async def test_mcp_inspector_cli_over_http_with_a_bearer_token(tmp_path: Path) -> None:
    from tests.e2e.test_examples import _inspector

    node, inspector = _inspector()
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        env = {"PATH": f"{node}:/usr/bin:/bin", "HOME": str(tmp_path)}
        results = []
        for era in ("auto", "legacy"):
            argv = [
                str(inspector),
                "--cli",
                url,
                "--protocol-era",
                era,
                "--format",
                "json",
                "--header",
                f"Authorization: Bearer {TOKEN}",
                "--method",
                "tools/call",
                "--tool-name",
                "one.echo",
                "--tool-args-json",
                '{"text": "inspected"}',
            ]
            done = await anyio.run_process(argv, env=env, check=False)
            assert done.returncode == 0, done.stderr.decode()
            results.append(json.loads(done.stdout)["result"]["structuredContent"])
    assert results == [{"result": "inspected"}, {"result": "inspected"}]


def test_a_public_address_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    argv = [
        *gateway_argv(tmp_path, {"one": demo()}),
        "--transport",
        "http",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
    ]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False, executable=sys.executable
    )
    assert done.returncode == 2
    assert "without authentication" in done.stderr


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_services_reached_by_url_serve_beside_stdio_ones(tmp_path: Path, mode: str) -> None:
    from tests.e2e.test_examples import _everything

    vector_port, everything_port = free_port(), free_port()
    vector = [
        sys.executable,
        "-m",
        "micro_mcp.services.vector",
        "--http",
        "--port",
        str(vector_port),
    ]
    everything = [str(_everything()), "streamableHttp"]
    async with (
        await anyio.open_process(vector, stderr=subprocess.DEVNULL) as vector_process,
        await anyio.open_process(
            everything,
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env={"PORT": str(everything_port), "PATH": "/usr/bin:/bin"},
        ) as everything_process,
    ):
        try:
            for port in (vector_port, everything_port):
                await wait_listening(port)
            services = {
                "vec": {"url": f"http://127.0.0.1:{vector_port}/mcp"},
                "ev": {"url": f"http://127.0.0.1:{everything_port}/mcp"},
                "one": demo(),
            }
            progress: list[float] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append(value)

            async with Client(gateway_params(tmp_path, services), mode=mode) as client:
                tools = {tool.name for tool in (await client.list_tools()).tools}
                added = await client.call_tool(
                    "vec.addDocument", {"id": "d", "text": "remote vectors"}
                )
                found = await client.call_tool("vec.search", {"query": "vectors"})
                echoed = await client.call_tool("ev.echo", {"message": "remote"})
                long = await client.call_tool(
                    "ev.trigger-long-running-operation",
                    {"duration": 1, "steps": 2},
                    progress_callback=on_progress,
                )
                local = await client.call_tool("one.echo", {"text": "local"})
        finally:
            vector_process.terminate()
            everything_process.terminate()
    assert {"vec.search", "ev.echo", "one.echo"} <= tools
    assert not added.is_error
    assert found.structured_content is not None and found.structured_content["hits"][0]["id"] == "d"
    assert "remote" in getattr(echoed.content[0], "text", "")
    assert not long.is_error and progress == [1, 2]
    assert local.structured_content == {"result": "local"}


async def test_the_2024_11_05_sse_transport_serves_older_clients(tmp_path: Path) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        sse_url = url.replace("/mcp", "/sse")
        transport = sse_client(sse_url, headers=AUTH)
        async with Client(transport, mode="legacy") as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            echoed = await client.call_tool("one.echo", {"text": "old school"})
        async with httpx2.AsyncClient() as http:
            refused = await http.get(sse_url, headers={"Accept": "text/event-stream"})
            stranger = await http.post(
                url.replace("/mcp", "/messages?session_id=nope"), content="{}", headers=AUTH
            )
    assert "one.echo" in tools
    assert echoed.structured_content == {"result": "old school"}
    assert refused.status_code == 401
    assert stranger.status_code == 404


async def test_a_service_on_the_2024_11_05_sse_transport_is_reached_declared_or_by_fallback(
    tmp_path: Path,
) -> None:
    from tests.e2e.test_examples import _everything

    port = free_port()
    env = {"PORT": str(port), "PATH": "/usr/bin:/bin"}
    argv = [str(_everything()), "sse"]
    async with await anyio.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    ) as server:
        try:
            await wait_listening(port)
            url = f"http://127.0.0.1:{port}/sse"
            services = {"declared": {"type": "sse", "url": url}, "guessed": {"url": url}}
            async with Client(gateway_params(tmp_path, services), mode="auto") as client:
                declared = await client.call_tool("declared.echo", {"message": "sse"})
                guessed = await client.call_tool("guessed.get-sum", {"a": 1, "b": 2})
        finally:
            server.terminate()
    assert "sse" in getattr(declared.content[0], "text", "")
    assert "3" in getattr(guessed.content[0], "text", "")


async def test_the_clients_token_stays_at_the_gateway_and_a_service_gets_its_own(
    tmp_path: Path,
) -> None:
    port = free_port()
    argv = [sys.executable, DEMO, "--http", str(port)]
    async with await anyio.open_process(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as service:
        try:
            await wait_listening(port)
            services = {
                "remote": {
                    "url": f"http://127.0.0.1:{port}/mcp",
                    "headers": {"X-Service-Key": "svc-secret"},
                }
            }
            async with http_gateway(tmp_path, services, CONFIG) as url:
                http = httpx2.AsyncClient(headers=AUTH)
                async with (
                    http,
                    Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
                ):
                    seen = await client.call_tool("remote.headers", {})
        finally:
            service.terminate()
    assert seen.structured_content == {"x-service-key": "svc-secret"}


async def test_a_crash_looping_service_is_given_up_and_shown_failed(tmp_path: Path) -> None:
    dies = {
        "command": "python",
        "args": ["-c", "raise SystemExit(1)"],
        "restartDelay": 0.05,
        "maxRestarts": 2,
    }
    async with (
        http_gateway(tmp_path, {"one": demo(), "dies": dies}, CONFIG) as url,
        httpx2.AsyncClient() as http,
    ):
        states: dict[str, str] = {}
        with anyio.fail_after(30):
            # Restarts run inside the gateway: poll its state until both services settle.
            while states != {"one": "ready", "dies": "failed"}:
                ready = await http.get(url.replace("/mcp", "/readyz"))
                states = ready.json()["services"]
                await anyio.sleep(0.1)
    assert ready.status_code == 200, "one failed service does not take the gateway out of rotation"
    assert ready.json()["degraded"] is True
    assert states == {"one": "ready", "dies": "failed"}


# --- the front door: request heads are bounded in size and time ---------------------------------


async def _endless_head(port: int, size: int) -> bytes:
    """Stream a request head with one header of `size` bytes, then end it; return the reply
    (empty if the gateway hung up without one)."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    async with stream:
        chunk = b"a" * 65536
        try:
            await stream.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: ")
            for _ in range(size // len(chunk)):
                await stream.send(chunk)
            await stream.send(b"\r\n\r\n")
        except (anyio.BrokenResourceError, OSError):
            pass  # hung up on: what is left to read says why
        answer = b""
        try:
            while True:
                answer += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            return answer


async def test_endless_request_heads_get_431_and_hold_no_memory_while_mcp_serves_on(
    tmp_path: Path,
) -> None:
    mib = 1024 * 1024
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        http = httpx2.AsyncClient(headers=AUTH, timeout=60)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            service = await client.call_tool("one.pid", {})
            assert service.structured_content is not None
            gateway = parent_of(service.structured_content["result"])
            before = peak_rss(gateway)
            answers: list[bytes] = []

            async def flood() -> None:
                answers.append(await _endless_head(port, 50 * mib))

            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    for _ in range(4):
                        tg.start_soon(flood)
                    echoed = await client.call_tool("one.echo", {"text": "still here"})
            after = peak_rss(gateway)
            again = await client.call_tool("one.echo", {"text": "and after"})
    statuses = [a.split(b"\r\n", 1)[0] for a in answers]
    assert all(s in (b"", b"HTTP/1.1 431 Request Header Fields Too Large") for s in statuses), (
        statuses
    )
    assert after - before < 16 * mib, f"peak memory grew by {(after - before) / mib:.1f} MiB"
    assert echoed.structured_content == {"result": "still here"}
    assert again.structured_content == {"result": "and after"}


async def test_a_request_head_that_stalls_is_closed_after_the_header_timeout(
    tmp_path: Path,
) -> None:
    config = {**CONFIG, "http": {"headerTimeout": 0.5}}
    async with http_gateway(tmp_path, {"one": demo()}, config) as url:
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        stalled = await anyio.connect_tcp("127.0.0.1", port)
        silent = await anyio.connect_tcp("127.0.0.1", port)
        async with stalled, silent, httpx2.AsyncClient() as http:
            await stalled.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ")
            with anyio.fail_after(10):
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
                    await stalled.receive()
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
                    await silent.receive()
            health = await http.get(url.replace("/mcp", "/healthz"))
    assert health.status_code == 200


async def test_every_path_gets_the_host_and_origin_checks_the_health_routes_included(
    tmp_path: Path,
) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, CONFIG) as url, httpx2.AsyncClient() as http:
        paths = ["/healthz", "/readyz", "/mcp", "/sse", "/messages", "/admin", "/metrics"]
        rebound = [
            (await http.get(url.replace("/mcp", path), headers={"Host": "evil.example"}))
            for path in paths
        ]
        foreign = [
            (await http.get(url.replace("/mcp", path), headers={"Origin": "https://evil.example"}))
            for path in paths
        ]
        health = await http.get(
            url.replace("/mcp", "/healthz"), headers={"Origin": "http://localhost:5173"}
        )
    assert [r.status_code for r in rebound] == [421] * len(paths)
    assert all(b"one" not in r.content for r in rebound), "no service names leak"
    assert [r.status_code for r in foreign] == [403] * len(paths)
    assert health.status_code == 200
