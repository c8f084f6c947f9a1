"""Gateway replicas sharing their state through a real `redis-server`, on one real service
reached by URL: a 2026-07-28 consent question asked by one replica is answered on another, a
task started on one is polled on another, with no affinity; and the bad inputs: a consent state
sealed by another deployment, Redis unreachable at start, Redis gone and back mid-run."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from micro_mcp import codes
from micro_mcp.protocol import versions
from tests.e2e.conftest import FIXTURES, free_port, gateway_argv, http_gateway, reap
from tests.e2e.conftest import wait_listening as listening
from tests.e2e.redis_server import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ALICE, BOB = "replica-alice-token-0123456789", "replica-bob-token-0123456789ab"
CONSENT_KEY = "micro-mcp/consent"
CAPABILITIES: dict[str, Any] = {
    "elicitation": {"form": {}},
    "extensions": {versions.TASKS_EXTENSION: {}},
}
APPROVE = {CONSENT_KEY: {"action": "accept", "content": {"approve": True}}}


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A `redis-server` of the test's own on a free port, stopped after it."""
    async with redis_server(tmp_path) as server:
        yield server


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The one task service all replicas reach by URL; yields its manifest entry."""
    port = free_port()
    with (tmp_path / "service.log").open("wb") as log:
        process = await anyio.open_process(
            [sys.executable, str(FIXTURES / "task_server.py"), str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        await listening(port)
        yield {"url": f"http://127.0.0.1:{port}/mcp", "protocol": "modern"}
    finally:
        process.terminate()
        await reap(process)


def _config(redis_url: str, prefix: str = "micro-mcp:") -> dict[str, Any]:
    return {
        "principals": {"alice": {"token": ALICE}, "bob": {"token": BOB}},
        "consent": {"tools": ["jobs.echo"]},
        "state": {"redis": redis_url, "keyPrefix": prefix},
    }


@asynccontextmanager
async def _replicas(
    tmp_path: Path, service: dict[str, Any], configs: list[dict[str, Any]]
) -> AsyncGenerator[list[str]]:
    """One gateway process per config, each in a folder of its own; yields their MCP URLs."""
    async with AsyncExitStack() as stack:
        urls: list[str] = []
        for n, config in enumerate(configs):
            folder = tmp_path / f"replica-{n}"
            folder.mkdir()
            urls.append(
                await stack.enter_async_context(http_gateway(folder, {"jobs": service}, config))
            )
        yield urls


async def _post(url: str, method: str, token: str = ALICE, **params: Any) -> httpx2.Response:
    """One raw 2026-07-28 request, for its status and body; `Mcp-Name` from its params."""
    meta: dict[str, Any] = {
        versions.PROTOCOL_VERSION_KEY: versions.LATEST_MODERN,
        versions.CLIENT_CAPABILITIES_KEY: CAPABILITIES,
    }
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": method,
        "params": {**params, "_meta": meta},
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Mcp-Method": method,
        "MCP-Protocol-Version": versions.LATEST_MODERN,
    }
    name = params.get("name", params.get("taskId"))
    if name is not None:
        headers["Mcp-Name"] = name
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers=headers)


async def _call(url: str, arguments: dict[str, Any], **more: Any) -> dict[str, Any]:
    response = await _post(url, "tools/call", name="jobs.echo", arguments=arguments, **more)
    return response.json()


async def test_a_consent_question_asked_by_one_replica_is_answered_on_another(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    async with _replicas(tmp_path, service, [_config(redis.url)] * 2) as (a, b):
        asked = (await _call(a, {"n": 1}))["result"]
        answered = await _call(
            b, {"n": 1}, requestState=asked["requestState"], inputResponses=APPROVE
        )
        replayed = await _call(
            a, {"n": 1}, requestState=asked["requestState"], inputResponses=APPROVE
        )
        remembered = await _call(a, {"n": 2})  # the approval given on b holds on a

    assert asked["resultType"] == "input_required"
    assert CONSENT_KEY in asked["inputRequests"]
    assert answered["result"]["content"][0]["text"] == '{"n": 1}'
    assert replayed["error"]["code"] == codes.CONSENT_REFUSED  # spent, on the other replica
    assert replayed["error"]["data"]["reason"] == "invalid"
    assert remembered["result"]["content"][0]["text"] == '{"n": 2}'


async def test_a_task_started_on_one_replica_is_polled_on_another_by_its_owner_only(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    async with _replicas(tmp_path, service, [_config(redis.url)] * 2) as (a, b):
        started = await _post(a, "tools/call", name="jobs.render", arguments={})
        task_id = started.json()["result"]["taskId"]
        polled = await _post(b, "tasks/get", taskId=task_id)
        stolen = await _post(b, "tasks/get", token=BOB, taskId=task_id)

    assert task_id.startswith("jobs+")
    assert polled.json()["result"]["taskId"] == task_id
    assert polled.json()["result"]["status"] == "completed"
    assert stolen.json()["error"]["code"] == codes.INVALID_PARAMS  # not bob's: unknown to him


async def test_a_consent_state_sealed_by_another_deployment_is_refused(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    # Two deployments on one Redis, told apart by their key prefix: each has its own key.
    configs = [_config(redis.url), _config(redis.url, prefix="other-deployment:")]
    async with _replicas(tmp_path, service, configs) as (ours, theirs):
        asked = (await _call(theirs, {"n": 1}))["result"]
        answered = await _call(
            ours, {"n": 1}, requestState=asked["requestState"], inputResponses=APPROVE
        )

    assert answered["error"]["code"] == codes.CONSENT_REFUSED
    assert answered["error"]["data"]["reason"] == "invalid"
    assert "result" not in answered


async def test_a_gateway_whose_redis_cannot_be_reached_does_not_start_and_says_why(
    tmp_path: Path, service: dict[str, Any]
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    argv = gateway_argv(tmp_path, {"jobs": service}, _config(nowhere))
    done = await anyio.run_process(
        [*argv, "--transport", "http", "--port", "0"], check=False, stdin=subprocess.DEVNULL
    )
    error = done.stderr.decode()
    assert done.returncode != 0
    assert f"state.redis: {nowhere} cannot be reached" in error
    assert "serving MCP" not in error


async def test_with_redis_down_a_request_that_needs_it_gets_503_then_works_when_it_returns(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    async with _replicas(tmp_path, service, [_config(redis.url)] * 2) as (a, b):
        asked = (await _call(a, {"n": 1}))["result"]
        await redis.stop()
        down = await _post(
            b,
            "tools/call",
            name="jobs.echo",
            arguments={"n": 1},
            requestState=asked["requestState"],
            inputResponses=APPROVE,
        )
        plain = await _post(b, "tools/list")  # needs no shared state: served as ever
        await redis.start()  # empty again: it keeps nothing on disk
        again = (await _call(b, {"n": 1}))["result"]  # the approval was not recorded: asked anew
        answered = await _call(
            a, {"n": 1}, requestState=again["requestState"], inputResponses=APPROVE
        )

    assert down.status_code == 503
    assert down.json()["error"]["code"] == codes.STATE_UNAVAILABLE
    assert plain.status_code == 200 and "jobs.echo" in plain.text
    assert again["resultType"] == "input_required"
    assert answered["result"]["content"][0]["text"] == '{"n": 1}'


async def test_a_list_cursor_cut_by_one_replica_pages_on_another(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    config = {**_config(redis.url), "pageSize": 1}
    async with _replicas(tmp_path, service, [config] * 2) as (a, b):
        first = (await _post(a, "tools/list")).json()["result"]
        second = (await _post(b, "tools/list", cursor=first["nextCursor"])).json()["result"]

    assert [tool["name"] for tool in first["tools"] + second["tools"]] == [
        "jobs.echo",
        "jobs.render",
    ]
    assert "nextCursor" not in second


async def test_a_handshake_session_id_is_refused_by_a_replica_that_did_not_create_it(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    # Handshake-era sessions are not shared yet: another replica must refuse the id (404, the
    # client initializes again), and no replica serves it to another principal.
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    alice = {**accept, "Authorization": f"Bearer {ALICE}"}
    bob = {**accept, "Authorization": f"Bearer {BOB}"}
    async with (
        _replicas(tmp_path, service, [_config(redis.url)] * 2) as (a, b),
        httpx2.AsyncClient() as http,
    ):
        opened = await http.post(a, json=initialize, headers=alice)
        session = {
            "Mcp-Session-Id": opened.headers["mcp-session-id"],
            "MCP-Protocol-Version": "2025-11-25",
        }
        on_a = await http.post(a, json=listing, headers={**alice, **session})
        on_b = await http.post(b, json=listing, headers={**alice, **session})
        bobs_on_a = await http.post(a, json=listing, headers={**bob, **session})

    assert on_a.status_code == 200 and "jobs.echo" in on_a.text
    assert on_b.status_code == 404 and "jobs.echo" not in on_b.text
    assert bobs_on_a.status_code == 404 and "jobs.echo" not in bobs_on_a.text


async def _status(url: str) -> dict[str, Any]:
    async with httpx2.AsyncClient() as http:
        response = await http.get(url.removesuffix("/mcp") + "/admin/status")
    response.raise_for_status()
    return response.json()


async def _metrics(url: str) -> str:
    async with httpx2.AsyncClient() as http:
        return (await http.get(url.removesuffix("/mcp") + "/metrics")).text


async def test_replicas_that_run_different_configs_are_reported_and_keep_serving(
    tmp_path: Path, redis: RedisServer, service: dict[str, Any]
) -> None:
    same, other = _config(redis.url), {**_config(redis.url), "pageSize": 7}
    async with _replicas(tmp_path, service, [same, same, other]) as (a, _, c):
        with anyio.fail_after(30):  # the first replica sees the later ones at its next beat
            status = await _status(a)
            while len(status["replicas"]) < 3:  # a status poll: no event crosses processes
                await anyio.sleep(0.2)
                status = await _status(a)
        metrics = await _metrics(c)
        listed = await _post(c, "tools/list")
    log = (tmp_path / "replica-2" / "gateway-http.log").read_text()

    replicas = status["replicas"]
    assert [r["this"] for r in replicas].count(True) == 1
    configs = sorted(r["config"] for r in replicas)
    assert configs[0] != configs[2] and configs.count(status["config"]) >= 1
    assert len(set(configs)) == 2  # the two alike agree; the third runs its own
    assert metrics.count('micro_mcp_replicas{config="') == 2
    assert "replicas run different configs or versions" in log
    assert listed.status_code == 200  # a disagreeing replica keeps serving by its config
