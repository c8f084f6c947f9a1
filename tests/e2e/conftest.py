"""Spawning a real gateway: its files, its command line, and a raw line-level driver."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import orjson
import pytest
from anyio.abc import ByteReceiveStream, Process
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO = str(FIXTURES / "demo_server.py")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def demo(*args: str, **options: Any) -> dict[str, Any]:
    """A manifest entry for the demo server."""
    return {"command": "python", "args": [DEMO, *args], **options}


def gateway_argv(
    tmp_path: Path, services: dict[str, Any], config: dict[str, Any] | None = None
) -> list[str]:
    """Write the manifest (and config) into `tmp_path` and return the gateway's argv."""
    discovery = tmp_path / "discovery.json"
    discovery.write_text(json.dumps({"mcpServers": services}))
    argv = [sys.executable, "-m", "micro_mcp", "gateway", "--discovery", str(discovery)]
    if config is not None:
        config_file = tmp_path / "gateway.json"
        config_file.write_text(json.dumps(config))
        argv += ["--config", str(config_file)]
    return argv


def gateway_params(
    tmp_path: Path,
    services: dict[str, Any],
    config: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> StdioServerParameters:
    """SDK stdio parameters that start a gateway over `services`."""
    command, *args = gateway_argv(tmp_path, services, config)
    return StdioServerParameters(command=command, args=args, env=env)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def wait_listening(port: int) -> None:
    """Wait until a server in another process accepts connections on `port`."""
    with anyio.fail_after(30):
        while True:  # another process: connecting is the only signal it gives
            try:
                await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                return
            except OSError:
                await anyio.sleep(0.1)


def alive(pid: int) -> bool:
    """Whether a process (ours or not) still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def exited(pid: int) -> None:
    """Wait until a process (ours or not) has exited: its pidfd turns readable then."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # gone already
    try:
        await anyio.wait_readable(pidfd)
    finally:
        os.close(pidfd)


def parent_of(pid: int) -> int:
    """A process's parent: the gateway is the parent of the stdio services it spawned."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    """The exceptions inside a nested exception group."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found += leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return found


class GatewayLog:
    """The gateway's stderr, line by line as it arrives: a test waits for the line that says
    something happened (a reload applied or refused, a service back up) instead of sleeping."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._grew = anyio.Event()
        self._partial = b""
        self._taken: dict[str, int] = {}

    def feed(self, data: bytes) -> None:
        *complete, self._partial = (self._partial + data).split(b"\n")
        if complete:
            self.lines += [line.decode(errors="replace") for line in complete]
            self._grew.set()
            self._grew = anyio.Event()

    async def next(self, text: str) -> str:
        """The next line containing `text`: the first one, then the one after it, and so on."""
        start = self._taken.get(text, 0)
        while True:
            for index in range(start, len(self.lines)):
                if text in self.lines[index]:
                    self._taken[text] = index + 1
                    return self.lines[index]
            start = len(self.lines)
            await self._grew.wait()

    async def record(self, stream: ByteReceiveStream, copy: BinaryIO) -> None:
        """Read `stream` to its end, keeping the lines and writing every byte to `copy`."""
        async for data in stream:
            copy.write(data)
            copy.flush()
            self.feed(data)

    async def record_fd(self, fd: int) -> None:
        """Read the pipe `fd` to its end (then close it), keeping the lines and echoing them to
        the test's stderr, where a failing test shows them."""
        os.set_blocking(fd, False)
        try:
            while True:
                await anyio.wait_readable(fd)
                data = os.read(fd, 65536)
                if not data:
                    return
                sys.stderr.buffer.write(data)
                sys.stderr.flush()
                self.feed(data)
        finally:
            os.close(fd)


@asynccontextmanager
async def logged_client(
    params: StdioServerParameters, **options: Any
) -> AsyncIterator[tuple[Client, GatewayLog]]:
    """An SDK client of the gateway that `params` starts, and that gateway's stderr as it comes."""
    log = GatewayLog()
    read_end, write_end = os.pipe()
    async with anyio.create_task_group() as tg:
        tg.start_soon(log.record_fd, read_end)
        with os.fdopen(write_end, "w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), **options) as client:
                errlog.close()  # the gateway has its own end: the log ends when the gateway does
                yield client, log


class Wire:
    """A client that writes raw lines to a gateway process and reads its replies."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.log = GatewayLog()
        self._buffer = b""

    async def send_raw(self, data: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(data)

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_raw(orjson.dumps(message) + b"\n")

    async def receive(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        with anyio.fail_after(20):
            while b"\n" not in self._buffer:
                self._buffer += await self.process.stdout.receive()
        line, self._buffer = self._buffer.split(b"\n", 1)
        return orjson.loads(line)

    async def request(
        self, request_id: int, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a request and return its response, skipping notifications in between."""
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        while True:
            reply = await self.receive()
            if reply.get("id") == request_id and "method" not in reply:
                return reply

    async def initialize(self) -> None:
        reply = await self.request(
            0,
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "wire", "version": "1"},
            },
        )
        assert "result" in reply, reply
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})


@asynccontextmanager
async def http_gateway(
    tmp_path: Path,
    services: dict[str, Any],
    config: dict[str, Any] | None = None,
    *extra: str,
) -> AsyncIterator[str]:
    """Run a gateway with `--transport http` on a free port; yield its MCP endpoint URL."""
    async with http_gateway_process(tmp_path, services, config, *extra) as (url, _process):
        yield url


@asynccontextmanager
async def http_gateway_process(
    tmp_path: Path,
    services: dict[str, Any],
    config: dict[str, Any] | None = None,
    *extra: str,
) -> AsyncIterator[tuple[str, Process]]:
    """`http_gateway`, yielding the gateway's process too."""
    argv = [*gateway_argv(tmp_path, services, config), "--transport", "http", "--port", "0", *extra]
    log = tmp_path / "gateway-http.log"
    with log.open("wb") as errors:
        process = await anyio.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=errors, stderr=errors
        )
    try:
        url = None
        with anyio.fail_after(30):
            # The log line is the only signal a separate process gives of its bound port.
            while url is None:
                for line in log.read_text().splitlines():
                    if "serving MCP on " in line:
                        url = line.rsplit("serving MCP on ", 1)[1].strip()
                if process.returncode is not None:
                    raise AssertionError(f"gateway exited: {log.read_text()}")
                await anyio.sleep(0.05)
        yield url, process
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have stopped it already
            process.terminate()
        await reap(process)


@asynccontextmanager
async def wire(
    argv: list[str], stderr: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Wire]:
    """Run a gateway and drive it line by line; its stderr goes to the file `stderr` and, line
    by line, to the driver's `log`."""
    process = await anyio.open_process(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert process.stdin is not None and process.stderr is not None
    driver = Wire(process)
    try:
        with stderr.open("wb") as errors:
            async with anyio.create_task_group() as tg:
                tg.start_soon(driver.log.record, process.stderr, errors)
                try:
                    yield driver
                finally:
                    await process.stdin.aclose()
                    await stop(process)  # then the log reads to the end of its stderr
    finally:
        await process.aclose()


async def stop(process: Process) -> None:
    """Wait up to 10 s for a process asked to stop, and kill it if it has not."""
    with anyio.move_on_after(10):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()


async def reap(process: Process) -> None:
    """Stop a process asked to stop (see `stop`) and release it."""
    await stop(process)
    await process.aclose()
