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
from typing import Any

import anyio
import orjson
import pytest
from anyio.abc import Process
from mcp import StdioServerParameters

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


def parent_of(pid: int) -> int:
    """A process's parent: the gateway is the parent of the stdio services it spawned."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    """The exceptions inside a nested exception group."""
    found: list[BaseException] = []
    for exc in group.exceptions:
        found += leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return found


class Wire:
    """A client that writes raw lines to a gateway process and reads its replies."""

    def __init__(self, process: Process) -> None:
        self.process = process
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
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):  # a test may have stopped it already
            process.terminate()
        await reap(process)


@asynccontextmanager
async def wire(
    argv: list[str], stderr: Path, env: dict[str, str] | None = None
) -> AsyncIterator[Wire]:
    """Run a gateway and drive it line by line; its stderr goes to the file `stderr`."""
    with stderr.open("wb") as errors:
        process = await anyio.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env
        )
    driver = Wire(process)
    try:
        yield driver
    finally:
        assert process.stdin is not None
        await process.stdin.aclose()
        await reap(process)


async def reap(process: Process) -> None:
    """Wait up to 10 s for a process asked to stop, kill it if it has not, and release it."""
    with anyio.move_on_after(10):
        await process.wait()
    if process.returncode is None:
        process.kill()
        await process.wait()
    await process.aclose()
