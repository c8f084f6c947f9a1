"""A real `redis-server` for the tests that share rate limits through Redis: started on a free
port in the test's folder, without persistence, stopped (and restartable) by the test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from tests.e2e.conftest import free_port, reap, wait_listening


def require_redis() -> str:
    """The `redis-server` binary; skip when it is not installed (fail under CI, where
    scripts/test installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed; scripts/test installs it (Debian redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


class RedisServer:
    """One `redis-server` process on `port`, which `stop` and `start` take down and bring back."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        """The URL a gateway's `rateLimits.storage` names it by."""
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        """Start it and wait until it accepts connections."""
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        with (self.folder / "redis.log").open("ab") as log:
            self.process = await anyio.open_process(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        await wait_listening(self.port)

    async def stop(self) -> None:
        """Stop it (SIGTERM) and wait until it has exited."""
        if self.process is not None:
            self.process.terminate()
            await reap(self.process)
            self.process = None


@asynccontextmanager
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A started `redis-server`, stopped when the block ends."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(require_redis(), folder)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
