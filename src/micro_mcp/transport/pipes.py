"""Byte streams over the gateway's own stdin and stdout file descriptors.

anyio's file wrappers read in a worker thread, a thread hop per message. A pipe can be read and
written on the event loop instead: the descriptor is made non-blocking and awaited with
`wait_readable` / `wait_writable`. The original flags are restored on close, so a terminal that
shares the descriptor is left as it was found.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Self

import anyio

READ_CHUNK = 256 * 1024
"""Bytes asked of the kernel per read: large results arrive in few wake-ups."""


class FdStream:
    """Non-blocking reads from one descriptor and writes to another."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._saved: dict[int, bool] = {}
        self._backlog = bytearray()
        self._flushing = anyio.Lock()

    def __enter__(self) -> Self:
        for fd in {self._read_fd, self._write_fd}:
            # Regular files cannot be polled; they never block, so they stay as they are.
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                self._saved[fd] = os.get_blocking(fd)
                os.set_blocking(fd, False)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for fd, blocking in self._saved.items():
            with contextlib.suppress(OSError):  # the descriptor is gone; nothing to restore
                os.set_blocking(fd, blocking)

    async def receive(self) -> bytes:
        """The next chunk of input; b"" at end of input."""
        while True:
            try:
                return os.read(self._read_fd, READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self._read_fd)

    async def send(self, data: bytes) -> None:
        """Write all of `data`, after everything sent before it and never interleaved with it.

        When the pipe has room, as it almost always has, the write completes here without
        yielding to the event loop; only a full pipe makes the writer wait (in order, behind a
        lock).

        Raises:
            BrokenPipeError: the reader went away.
        """
        if not self._backlog:
            try:
                written = os.write(self._write_fd, data)
            except BlockingIOError:
                written = 0
            if written == len(data):
                return
            data = data[written:]
        self._backlog += data
        async with self._flushing:
            while self._backlog:
                try:
                    written = os.write(self._write_fd, self._backlog)
                except BlockingIOError:
                    await anyio.wait_writable(self._write_fd)
                    continue
                del self._backlog[:written]
