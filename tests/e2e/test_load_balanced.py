"""Three gateway processes behind a real HAProxy (round robin per request, no stickiness) on one
real `redis-server`, with SDK clients of the 2026-07-28 era: their requests land on every
replica, a consent question asked by one is answered on another, a task started on one is
polled on the others; one replica killed under load fails at most the calls in flight on it;
Redis restarting mid-run gives a clear error, then service resumes."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import orjson
import pytest
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CreateMessageResult, ElicitResult, TextContent

from micro_mcp import codes
from tests.e2e.conftest import (
    DEMO,
    FIXTURES,
    free_port,
    http_gateway_process,
    reap,
    wait_listening,
)
from tests.e2e.haproxy import SERVED_BY, haproxy
from tests.e2e.redis_server import RedisServer, redis_server

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "balanced-token-0123456789abcdef"
REPLICAS = ("g0", "g1", "g2")
WORKERS = 4
"""Clients calling at once in the kill test: each has at most one call in flight."""


@dataclass
class Cluster:
    """The load balancer's URL, each replica's process, and which replica served what."""

    url: str
    processes: dict[str, Process]
    served: list[tuple[str, str, bool]] = field(default_factory=list[tuple[str, str, bool]])
    """(replica, Mcp-Method, whether the request answered a question) per response."""

    @asynccontextmanager
    async def client(
        self, served: list[tuple[str, str, bool]] | None = None, **options: Any
    ) -> AsyncGenerator[Client]:
        """An SDK client through the load balancer, its responses recorded in `served` (the
        cluster's unless given); its HTTP connections closed when the block ends (also when
        the client broke)."""
        into = self.served if served is None else served

        async def record(response: httpx2.Response) -> None:
            request = response.request
            body = orjson.loads(request.content) if request.content.startswith(b"{") else {}
            # A 2026-07-28 answer re-sends the request with its state; a handshake-era one is a
            # JSON-RPC response to the gateway's request.
            answering = b'"requestState"' in request.content or "result" in body
            method = request.headers.get("mcp-method") or body.get("method", "")
            into.append((response.headers.get(SERVED_BY, "?"), method, answering))

        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx2.AsyncClient(headers=auth, event_hooks={"response": [record]}) as http,
            Client(streamable_http_client(self.url, http_client=http), **options) as client,
        ):
            yield client


@pytest.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A `redis-server` of the test's own on a free port, stopped after it."""
    async with redis_server(tmp_path) as server:
        yield server


@asynccontextmanager
async def _cluster(
    tmp_path: Path,
    redis: RedisServer,
    *,
    sticky: bool = False,
    demo: bool = False,
    **config: Any,
) -> AsyncGenerator[Cluster]:
    """The task service, three gateways on `redis` and HAProxy in front of them (`sticky`:
    with affinity on the handshake-era session header; `demo`: also the demo service, which
    asks the client's model, with a session per client on each replica)."""
    port = free_port()
    services: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        if demo:
            demo_port = free_port()
            with (tmp_path / "demo.log").open("wb") as log:
                process = await anyio.open_process(
                    [sys.executable, DEMO, "--http", str(demo_port)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            stack.push_async_callback(reap, process)
            stack.callback(process.terminate)
            await wait_listening(demo_port)
            url = f"http://127.0.0.1:{demo_port}/mcp"
            services["demo"] = {"url": url, "sessions": "per-client"}
        with (tmp_path / "service.log").open("wb") as log:
            service = await anyio.open_process(
                [sys.executable, str(FIXTURES / "task_server.py"), str(port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        stack.push_async_callback(reap, service)
        stack.callback(service.terminate)
        await wait_listening(port)
        # One session to the service for every client: it speaks 2026-07-28 only, so cannot
        # open the per-client handshake sessions `auto` would give handshake-era clients.
        url = f"http://127.0.0.1:{port}/mcp"
        services["jobs"] = {"url": url, "protocol": "modern", "sessions": "shared"}
        balancer = free_port()
        gateway = {
            "token": TOKEN,
            "state": {"redis": redis.url},
            "http": {"allowedHosts": [f"127.0.0.1:{balancer}"]},
            **config,
        }
        processes: dict[str, Process] = {}
        backends: dict[str, int] = {}
        for name in REPLICAS:
            folder = tmp_path / name
            folder.mkdir()
            started = http_gateway_process(folder, services, gateway)
            url, processes[name] = await stack.enter_async_context(started)
            backends[name] = urlsplit(url).port or 0
        url = await stack.enter_async_context(haproxy(tmp_path, balancer, backends, sticky=sticky))
        yield Cluster(url, processes)


async def approve(context: Any, params: Any) -> ElicitResult:
    """The human behind every client: approves whatever is asked."""
    return ElicitResult(action="accept", content={"approve": True})


async def test_sdk_calls_land_on_every_replica_and_a_question_is_answered_on_another(
    tmp_path: Path, redis: RedisServer
) -> None:
    consent = {"tools": ["jobs.echo"], "rememberSeconds": 0}  # every call asks anew
    async with (
        _cluster(tmp_path, redis, consent=consent) as cluster,
        cluster.client(elicitation_callback=approve) as client,
    ):
        echoed = [await client.call_tool("jobs.echo", {"n": n}) for n in range(6)]

    calls = [(replica, answering) for replica, method, answering in cluster.served if method]
    calls = [c for c in calls if c[0] != "?"]
    crossed = [
        (asked, answered) for (asked, q), (answered, a) in itertools.pairwise(calls) if not q and a
    ]
    texts = [getattr(result.content[0], "text", None) for result in echoed]
    assert texts == [f'{{"n": {n}}}' for n in range(6)]
    assert {replica for replica, _, _ in cluster.served} == set(REPLICAS)
    assert len(crossed) == 6  # each call: asked, then answered
    assert any(asked != answered for asked, answered in crossed)


async def test_a_task_started_through_the_balancer_is_polled_on_other_replicas(
    tmp_path: Path, redis: RedisServer
) -> None:
    meta: dict[str, Any] = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {
            "extensions": {"io.modelcontextprotocol/tasks": {}}
        },
    }
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
    }

    async def post(http: httpx2.AsyncClient, url: str, method: str, **params: Any) -> Any:
        name = params.get("name", params.get("taskId"))
        body: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": method,
            "params": {**params, "_meta": meta},
        }
        sent = {**headers, "Mcp-Method": method, "Mcp-Name": str(name)}
        response = await http.post(url, json=body, headers=sent)
        return response.headers[SERVED_BY], response.json()

    async with _cluster(tmp_path, redis) as cluster, httpx2.AsyncClient() as http:
        on, started = await post(http, cluster.url, "tools/call", name="jobs.render", arguments={})
        task_id = started["result"]["taskId"]
        polls = [await post(http, cluster.url, "tasks/get", taskId=task_id) for _ in range(3)]

    assert {on} | {replica for replica, _ in polls} == set(REPLICAS)
    assert [poll["result"]["status"] for _, poll in polls] == ["completed"] * 3


@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28, then handshake-era sessions
async def test_a_replica_killed_under_load_fails_at_most_the_calls_in_flight_on_it(
    tmp_path: Path, redis: RedisServer, mode: str
) -> None:
    outcomes: list[tuple[bool, bool]] = []  # (started after the kill, succeeded) per call
    opened: list[bool] = []  # per client opened: whether after the kill
    killed = anyio.Event()
    warmed = anyio.Event()
    enough = anyio.Event()

    async def worker(cluster: Cluster, n: int) -> None:
        pending = after = False  # a call (or the client's opening) under way, and when it began
        while not enough.is_set():
            pending, after = True, killed.is_set()
            try:
                async with cluster.client(elicitation_callback=approve, mode=mode) as client:
                    pending = False
                    opened.append(after)
                    while not enough.is_set():
                        pending, after = True, killed.is_set()
                        try:
                            result = await client.call_tool("jobs.echo", {"worker": n})
                            ok = not result.is_error
                        except MCPError:
                            ok = False
                        pending = False
                        counted(after, ok)
            except Exception:  # a dropped connection ends the SDK client: count, open another
                if pending:
                    counted(after, False)

    def counted(after: bool, ok: bool) -> None:
        outcomes.append((after, ok))
        if sum(1 for after, ok in outcomes if ok and not after) >= 40:
            warmed.set()
        if sum(1 for after, _ in outcomes if after) >= 120:
            enough.set()

    consent = {"tools": ["jobs.echo"]}  # asked once per principal, then remembered in Redis
    mark = 0
    async with _cluster(tmp_path, redis, consent=consent) as cluster:
        async with anyio.create_task_group() as tg:
            for n in range(WORKERS):
                tg.start_soon(worker, cluster, n)
            await warmed.wait()
            cluster.processes["g1"].send_signal(signal.SIGKILL)
            await cluster.processes["g1"].wait()
            mark = len(cluster.served)
            killed.set()
        after_kill = {replica for replica, _, _ in cluster.served[mark:]}

    before = [ok for after, ok in outcomes if not after]
    after = [ok for after, ok in outcomes if after]
    assert before.count(False) <= WORKERS  # at most the calls in flight when it died
    assert len(after) >= 120 and all(after)  # nothing started after the kill fails
    assert after_kill == {"g0", "g2"}  # the survivors carried the load
    # A session goes on on the survivors: a client opens another only when its own broke with
    # a call in flight on the killed replica.
    assert opened.count(True) <= before.count(False)


async def test_redis_restarting_mid_run_gives_a_clear_error_then_service_resumes(
    tmp_path: Path, redis: RedisServer
) -> None:
    consent = {"tools": ["jobs.echo"], "rememberSeconds": 0}
    async with (
        _cluster(tmp_path, redis, consent=consent) as cluster,
        cluster.client(elicitation_callback=approve) as client,
    ):
        before = await client.call_tool("jobs.echo", {"n": 1})
        await redis.stop()
        with pytest.raises(MCPError) as down:
            await client.call_tool("jobs.echo", {"n": 2})
        listed = await client.list_tools()  # needs no shared state
        await redis.start()
        after = [await client.call_tool("jobs.echo", {"n": n}) for n in range(3, 6)]

    assert not before.is_error
    assert down.value.code == codes.STATE_UNAVAILABLE
    assert {tool.name for tool in listed.tools} == {"jobs.echo", "jobs.render"}
    assert not any(result.is_error for result in after)


async def test_handshake_era_sessions_are_served_by_every_replica_without_affinity(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Each session's requests go round robin: the replica that gets one it does not hold adopts
    # the session from its record in Redis; consent's elicitation, sent by the replica running
    # the call, is answered by a POST that lands on another and is routed back to it.
    consent = {"tools": ["jobs.echo"], "rememberSeconds": 0}  # every call asks anew
    served: list[list[tuple[str, str, bool]]] = [[] for _ in REPLICAS]
    async with _cluster(tmp_path, redis, consent=consent) as cluster, AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                cluster.client(log, mode="legacy", elicitation_callback=approve)
            )
            for log in served
        ]
        for n in range(3):
            for client in clients:
                echoed = await client.call_tool("jobs.echo", {"n": n})
                assert getattr(echoed.content[0], "text", None) == f'{{"n": {n}}}'
        listed = [await client.list_tools() for client in clients]

    replicas = [{replica for replica, _, _ in log} for log in served]
    assert all(len(each) > 1 for each in replicas)  # every session served by several replicas
    assert set[str]().union(*replicas) == set(REPLICAS)
    crossed = [
        (asked, answered)
        for log in served
        for (asked, method, _), (answered, _, answering) in itertools.pairwise(log)
        if method == "tools/call" and answering
    ]
    assert len(crossed) == 9  # each call: its question answered
    assert any(asked != answered for asked, answered in crossed)
    assert all({t.name for t in each.tools} == {"jobs.echo", "jobs.render"} for each in listed)


async def test_a_services_sampling_request_is_answered_through_another_replica(
    tmp_path: Path, redis: RedisServer
) -> None:
    # The replica running `demo.ask` opens the client's own session on the service, which asks
    # the client's model on it; the client's answer lands on another replica and is routed back.
    async def sample(context: Any, params: Any) -> CreateMessageResult:
        text = f"answer to {params.messages[0].content.text}"
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=text), model="test"
        )

    served: list[list[tuple[str, str, bool]]] = [[] for _ in REPLICAS]
    async with _cluster(tmp_path, redis, demo=True) as cluster, AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                cluster.client(log, mode="legacy", sampling_callback=sample)
            )
            for log in served
        ]
        for n in range(2):
            for c, client in enumerate(clients):
                asked = await client.call_tool("demo.ask", {"question": f"q{c}.{n}"})
                assert getattr(asked.content[0], "text", None) == f"answer to q{c}.{n}"

    crossed = [
        (asked, answered)
        for log in served
        for (asked, method, _), (answered, _, answering) in itertools.pairwise(log)
        if method == "tools/call" and answering
    ]
    assert len(crossed) == 6
    assert any(asked != answered for asked, answered in crossed)


async def test_with_redis_unresponsive_a_handshake_session_gets_a_clear_error_then_goes_on(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Redis stopped in its tracks (SIGSTOP), then resumed with what it held: the session's
    # requests fail with -32009 meanwhile, and the same session serves again afterwards.
    served: list[tuple[str, str, bool]] = []
    assert redis.process is not None
    async with (
        _cluster(tmp_path, redis) as cluster,
        cluster.client(served, mode="legacy") as client,
    ):
        before = await client.call_tool("jobs.echo", {"n": 1})
        redis.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(MCPError) as down:
                await client.call_tool("jobs.echo", {"n": 2})
        finally:
            redis.process.send_signal(signal.SIGCONT)
        after = [await client.call_tool("jobs.echo", {"n": n}) for n in range(3, 6)]

    assert not before.is_error
    assert down.value.code == codes.STATE_UNAVAILABLE
    assert not any(result.is_error for result in after)
    assert [method for _, method, _ in served].count("initialize") == 1  # the same session
    assert len({replica for replica, _, _ in served}) > 1


async def test_after_redis_restarts_handshake_sessions_are_opened_and_answered_across_replicas(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Redis restarted empty: the sessions it held are gone (404: the SDK's session ends), a new
    # one is served by every replica, and answers reach the replica waiting for them at once
    # (every replica has subscribed to its channel again).
    consent = {"tools": ["jobs.echo"], "rememberSeconds": 0}
    served: list[tuple[str, str, bool]] = []
    async with _cluster(tmp_path, redis, consent=consent) as cluster:
        async with cluster.client(mode="legacy", elicitation_callback=approve) as client:
            before = await client.call_tool("jobs.echo", {"n": 1})
            await redis.stop()
            with pytest.raises(MCPError) as down:
                await client.call_tool("jobs.echo", {"n": 2})
            await redis.start()
        async with cluster.client(served, mode="legacy", elicitation_callback=approve) as client:
            after = [await client.call_tool("jobs.echo", {"n": n}) for n in range(3, 7)]

    assert not before.is_error
    assert down.value.code == codes.STATE_UNAVAILABLE
    assert [getattr(r.content[0], "text", None) for r in after] == [
        f'{{"n": {n}}}' for n in range(3, 7)
    ]
    answered = [replica for replica, _, answering in served if answering]
    assert len(answered) == 4 and len({replica for replica, _, _ in served}) == 3


async def test_with_session_affinity_handshake_era_sessions_stay_on_their_replica(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Until sessions are shared: the balancer learns each session's replica from the reply to
    # its `initialize` (which was balanced like any request) and sends the session there.
    served: list[list[tuple[str, str, bool]]] = [[] for _ in REPLICAS]
    async with _cluster(tmp_path, redis, sticky=True) as cluster, AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(cluster.client(log, mode="legacy")) for log in served
        ]
        for _ in range(3):
            for client in clients:
                echoed = await client.call_tool("jobs.echo", {"n": 1})
                assert getattr(echoed.content[0], "text", None) == '{"n": 1}'

    replicas = [{replica for replica, _, _ in log} for log in served]
    assert all(len(each) == 1 for each in replicas)  # every request of a session: one replica
    assert set[str]().union(*replicas) == set(REPLICAS)  # the sessions themselves spread over all
