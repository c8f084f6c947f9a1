"""A service reached by URL replaced while four SDK clients call it through a real gateway, with
no failed call: (a) at the same URL, its process stopped gracefully and a new one started on the
port (the gateway sends again what was refused at connect); (b) at a new URL by a manifest
reload (the gateway opens the new upstream first, new calls go there, the old one drains)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import TextContent

from tests.e2e.conftest import FIXTURES, free_port, http_gateway_process, reap, wait_listening
from tests.e2e.test_reload import rewrite

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

CLIENTS = 4
ROLLING = str(FIXTURES / "rolling_server.py")
ERAS = ("modern", "handshake")
"""2026-07-28: stateless, each call stands alone. Handshake era: the gateway's session lives in
the service's process, so after (a) it must initialize a new one."""


class Answers:
    """Which process answered how many calls, what failed, and an event per process seen."""

    def __init__(self) -> None:
        self.by_pid: Counter[int] = Counter()
        self.failures: list[str] = []
        self._seen: dict[int, anyio.Event] = {}

    def note(self, pid: int) -> None:
        """One call answered by `pid`."""
        self.by_pid[pid] += 1
        self.seen(pid).set()

    def seen(self, pid: int) -> anyio.Event:
        """Set once `pid` has answered a call."""
        return self._seen.setdefault(pid, anyio.Event())

    async def answered_by(self, pid: int, calls: int = 20) -> None:
        """Wait until `pid` has answered `calls` calls (20 s at most)."""
        with anyio.fail_after(20):
            await self.seen(pid).wait()
            while self.by_pid[pid] < calls:  # noqa: ASYNC110 - a few turns of the clients
                await anyio.sleep(0.05)


@asynccontextmanager
async def _service(tmp_path: Path, port: int, name: str) -> AsyncGenerator[Process]:
    argv = [sys.executable, ROLLING, str(port)]
    with (tmp_path / f"{name}.log").open("wb") as log:
        process = await anyio.open_process(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        await wait_listening(port)
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        await reap(process)


async def _calling(url: str, answers: Answers, stop: anyio.Event) -> None:
    """One SDK client calling `roll.work` one call after another until `stop`."""
    async with (
        httpx2.AsyncClient() as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        while not stop.is_set():
            try:
                result = await client.call_tool("roll.work", {})
            except Exception as exc:  # every failure is the test's finding
                answers.failures.append(repr(exc))
                continue
            block = result.content[0] if result.content else None
            if result.is_error or not isinstance(block, TextContent):
                answers.failures.append(f"error result: {result}")
                continue
            answers.note(int(block.text))


async def _log_line(log: Path, text: str) -> None:
    with anyio.fail_after(20):
        while text not in await anyio.Path(log).read_text():  # noqa: ASYNC110 - another process
            await anyio.sleep(0.05)


@pytest.mark.parametrize("era", ERAS)
async def test_a_service_replaced_at_its_url_and_then_moved_to_another_fails_no_call(
    tmp_path: Path, era: str
):
    first_port, second_port = free_port(), free_port()
    entry = {"url": f"http://127.0.0.1:{first_port}/mcp", "protocol": era}
    answers, stop = Answers(), anyio.Event()
    async with AsyncExitStack() as stack:
        old = await stack.enter_async_context(_service(tmp_path, first_port, "old"))
        gateway, _ = await stack.enter_async_context(
            http_gateway_process(tmp_path, {"roll": entry}, {"reloadInterval": 0.2})
        )
        log = tmp_path / "gateway-http.log"
        await _log_line(log, "watching ")
        async with anyio.create_task_group() as tg:
            for _ in range(CLIENTS):
                tg.start_soon(_calling, gateway, answers, stop)
            await answers.answered_by(old.pid, 100)

            # (a) Same URL: the old process stops accepting and finishes its calls; a new one
            # takes the port once it has gone.
            old.send_signal(signal.SIGTERM)
            await reap(old)
            same = await stack.enter_async_context(_service(tmp_path, first_port, "same"))
            await answers.answered_by(same.pid, 100)

            # (b) New URL by a manifest reload: the new upstream opens, new calls go to it,
            # those in flight on the old one finish, then the old session closes.
            moved = await stack.enter_async_context(_service(tmp_path, second_port, "moved"))
            entry = {**entry, "url": f"http://127.0.0.1:{second_port}/mcp"}
            rewrite(tmp_path, {"roll": entry})
            await _log_line(log, "the replaced upstream")
            after_drain = answers.by_pid[same.pid]
            await answers.answered_by(moved.pid, 100)
            stop.set()

    assert answers.failures == []
    assert set(answers.by_pid) == {old.pid, same.pid, moved.pid}
    assert sum(answers.by_pid.values()) >= 300
    assert answers.by_pid[same.pid] == after_drain  # nothing reached the old one after it closed
    text = log.read_text()
    assert f"http://127.0.0.1:{first_port}/mcp closed after its calls drained\n" in text
    assert "restarted roll" in text
    if era == "handshake":  # after (a), once: the new process knew nothing of the old session
        assert text.count("its session is gone (HTTP 404") == 1
    print(json.dumps({"calls": dict(answers.by_pid)}))
