"""The JSON-lines sink: one sealed line per record, appended with one `write`, so a killed
gateway leaves every record it emitted; forced to disk per the fsync policy; rotated by size
with the chain going on in the next file."""

from __future__ import annotations

import errno
import logging
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any, Final, Literal

import anyio
import anyio.to_thread
import orjson

from micro_mcp.audit.chain import Chain, line_hash
from micro_mcp.audit.events import AuditEvent
from micro_mcp.errors import ConfigError

logger = logging.getLogger(__name__)

Fsync = Literal["always", "interval", "never"]
TAIL_CHUNK: Final = 65536
"""How much of the file's end is read at a time to find the last line when resuming."""


class JsonlSink:
    """Appends each event, sealed into the hash chain, to a file (or stderr for `-`)."""

    def __init__(
        self,
        path: str,
        *,
        key: bytes | None = None,
        fsync: Fsync = "interval",
        fsync_interval: float = 1.0,
        rotate_bytes: int | None = None,
    ) -> None:
        """Open the file and resume its chain. A file that cannot be opened now is opened at
        the first record (and the sink fails until it can).

        Raises:
            ConfigError: the file's last line is not a sealed record (not a trail of this kind).
        """
        self.path = path
        self.chain = Chain(key=key)
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.rotate_bytes = rotate_bytes
        self._fd: int | None = None
        self._regular = True
        """Whether the path is a regular file: a device or a pipe (`/dev/null`, a FIFO a log
        shipper reads) is written to, never synced, resumed or rotated."""
        self._size = 0
        self._written = 0
        """Records written; `_synced` of them are known to be on disk."""
        self._synced = 0
        self._syncing: anyio.Event | None = None
        self._last_sync = time.monotonic()
        if path != "-":
            try:
                self._open()
            except OSError as exc:
                logger.error("audit: cannot open %s yet: %s", path, exc)

    def emit(self, event: AuditEvent) -> None:
        """Seal and append the event.

        Raises:
            OSError: the line could not be written whole (it is then not in the file, and the
                chain has not moved).
        """
        line = self.chain.peek(event.to_json()[:-1])
        if self.path == "-":
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()
            self.chain.advance(line)
            return
        fd = self._fd if self._fd is not None else self._open()
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC) + " (short write)", self.path)
        except OSError:
            self._cut_back(fd)
            raise
        self._size += written
        self._written += 1
        self.chain.advance(line)
        if not self._regular:
            return
        if self.fsync == "interval" and time.monotonic() - self._last_sync >= self.fsync_interval:
            self._sync_now(fd)
        if self.rotate_bytes is not None and self._size >= self.rotate_bytes:
            try:
                self._rotate(fd)
            except OSError as exc:  # the record is in; the next one tries again
                logger.error("audit: cannot rotate %s: %s", self.path, exc)

    async def settle(self) -> None:
        """Return once every record emitted so far is on disk (fsync `always`; otherwise at
        once). Concurrent callers share one fsync: the first starts it, the others wait for it
        and go on if it covered their record (group commit).

        Raises:
            OSError: the fsync failed.
        """
        if self.fsync != "always" or not self._regular:
            return
        target = self._written
        while self._synced < target and self._fd is not None:
            running = self._syncing
            if running is not None:
                await running.wait()
                continue
            running = self._syncing = anyio.Event()
            upto = self._written
            copy = os.dup(self._fd)  # a rotation may close the sink's own fd meanwhile
            try:
                await anyio.to_thread.run_sync(_sync_and_close, copy)
                self._synced = max(self._synced, upto)
            finally:
                self._syncing = None
                running.set()

    def close(self) -> None:
        """Force what was written to disk and close the file."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                if self.fsync != "never" and self._regular:
                    os.fsync(fd)
            finally:
                os.close(fd)

    # --- the file ---------------------------------------------------------------------------

    def _open(self) -> int:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            status = os.fstat(fd)
            self._regular = stat.S_ISREG(status.st_mode)
            size = status.st_size if self._regular else 0
            if self._fd is None and self._written == 0 and size > 0:
                size = self._resume(fd, size)
        except _Unchained:
            os.close(fd)
            path = Path(self.path)
            aside = path.with_name(f"{path.stem}-unchained-{int(time.time())}{path.suffix}")
            os.rename(path, aside)
            logger.warning(
                "audit: %s holds records of a gateway without the hash chain; moved to %s, "
                "and the chain starts in a new file",
                path,
                aside,
            )
            return self._open()
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._size = fd, size
        return fd

    def _resume(self, fd: int, size: int) -> int:
        """Take the chain up from the file's last line; returns the size to append at."""
        with open(self.path, "rb") as file:
            last = _last_line(file.fileno(), size)
        if not last.endswith(b"\n"):
            # A line cut short by a crash mid-write (power loss): never acknowledged, since a
            # reply waits for its whole line; keep the file verifiable by dropping it.
            logger.warning("audit: %s ends with a line cut short; dropping it", self.path)
            size -= len(last)
            os.ftruncate(fd, size)
            if size == 0:
                return 0
            with open(self.path, "rb") as file:
                last = _last_line(file.fileno(), size)
        try:
            record: Any = orjson.loads(last)
        except orjson.JSONDecodeError:
            record = None
        match record:
            case {"seq": int() as seq, "prev": str()} if not isinstance(seq, bool):
                pass
            case {"event": str()} if "seq" not in record:
                raise _Unchained
            case _:
                raise ConfigError(
                    f"audit.path {self.path}: its last line is not a sealed audit record; "
                    "move the file away (or run `micro-mcp audit verify` on it)"
                )
        self.chain.seq = seq + 1
        self.chain.prev = line_hash(last)
        return size

    def _cut_back(self, fd: int) -> None:
        """Drop whatever part of a failed line reached the file."""
        try:
            if os.fstat(fd).st_size != self._size:
                os.ftruncate(fd, self._size)
        except OSError as exc:
            logger.error("audit: cannot cut a failed line from %s: %s", self.path, exc)

    def _sync_now(self, fd: int) -> None:
        os.fsync(fd)
        self._synced = self._written
        self._last_sync = time.monotonic()

    def _rotate(self, fd: int) -> None:
        """Close the full file, rename it `<path>.<n>`, and go on in a fresh one."""
        if self.fsync != "never":
            self._sync_now(fd)
        self._fd = None
        os.close(fd)
        path = Path(self.path)
        taken = [
            int(p.name.rsplit(".", 1)[1])
            for p in path.parent.glob(path.name + ".*")
            if p.name.rsplit(".", 1)[1].isdigit()
        ]
        os.rename(path, f"{path}.{max(taken, default=0) + 1}")
        self._open()


class _Unchained(Exception):
    """The file is a trail from before the chain (its records have no `seq`): moved aside."""


def _sync_and_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_line(fd: int, size: int) -> bytes:
    """The file's last line (with its newline, if it has one)."""
    tail = b""
    position = size
    while position > 0:
        step = min(TAIL_CHUNK, position)
        position -= step
        tail = os.pread(fd, step, position) + tail
        cut = tail.rfind(b"\n", 0, len(tail) - 1)
        if cut >= 0:
            return tail[cut + 1 :]
    return tail
