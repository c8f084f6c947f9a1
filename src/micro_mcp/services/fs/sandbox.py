"""The file operations of the fs service, each confined to one root by `walk.Root`.

Every operation first walks the requested path (see `walk` for how the walk stays beneath
the root and closes the check-then-open race), then acts on the entry the walk found, opened
relative to the directory the walk holds, with `O_NOFOLLOW` and an identity check.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from micro_mcp.services.fs.errors import FsError, PathRefused
from micro_mcp.services.fs.paths import RequestedPath
from micro_mcp.services.fs.walk import Location, Root, is_dir, reason, reopened, show

EntryType = Literal["file", "dir", "symlink", "other"]
"""What a directory entry is, judged without following symlinks."""

_LIST_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""A directory opened to read its entries."""

_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
"""A file that must not exist yet, and is never reached through a symlink."""

_READ_CHUNK = 64 * 1024
"""Bytes per read() call; reads stop one byte past the limit, whatever the file claims."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry; `size` is set for regular files with a single link only."""

    name: str
    type: EntryType
    size: int | None


@dataclass(frozen=True, slots=True)
class Listing:
    """A directory's entries sorted by name (at most the limit); `path` relative to the root."""

    path: str
    entries: list[Entry]
    truncated: bool


@dataclass(frozen=True, slots=True)
class Found:
    """An entry met by `Sandbox.find`; `parts` are its path below the searched directory."""

    parts: tuple[str, ...]
    type: EntryType
    size: int | None


class Sandbox:
    """Access to the files under one root directory and nowhere else."""

    def __init__(self, root: Path | str) -> None:
        """Resolve the root and remember which directory it is.

        Raises:
            FsError: The root does not exist or is not a directory.
        """
        self._root = Root(root)
        self.root = self._root.path

    def list_dir(self, path: RequestedPath, limit: int) -> Listing:
        """List the directory at `path`: at most `limit` entries, the first by name.

        Raises:
            FsError: As for `Root.locate`, or the path is not a directory.
        """
        with self._root.locate(path) as location:
            _require_dir(location, path)
            with reopened(location, _LIST_FLAGS) as fd, os.scandir(fd) as items:
                found = sorted((_entry(item) for item in items), key=lambda e: e.name)
        return Listing(path=location.path, entries=found[:limit], truncated=len(found) > limit)

    def read_bytes(self, path: RequestedPath, limit: int) -> tuple[str, bytes]:
        """Read the regular file at `path`, of at most `limit` bytes; return its path and data.

        Raises:
            FsError: As for `Root.locate`, or the file is not a regular file, has more than
                one hard link, or is larger than `limit` bytes.
        """
        with self._root.locate(path) as location:
            _require_single_file(location, path)
            # O_NONBLOCK: should a FIFO be swapped in after the check, open() must not hang.
            with reopened(location, os.O_RDONLY | os.O_NONBLOCK) as fd:
                size = os.fstat(fd).st_size
                if size > limit:
                    raise _too_large(path, size, limit)
                data = _read_at_most(fd, limit + 1)
        if len(data) > limit:
            raise _too_large(path, len(data), limit)
        return location.path, data

    def status(self, path: RequestedPath) -> tuple[str, os.stat_result]:
        """The path (symlinks resolved) and status of what `path` names.

        Raises:
            FsError: As for `Root.locate`, or it is a regular file with more than one hard link.
        """
        with self._root.locate(path) as location:
            assert location.status is not None  # may_be_missing is off
            if stat.S_ISREG(location.status.st_mode):
                _require_single_file(location, path)
            return location.path, location.status

    def find(
        self,
        path: RequestedPath,
        wanted: Callable[[tuple[str, ...]], bool],
        *,
        max_depth: int | None,
        max_results: int,
        max_visited: int,
    ) -> tuple[str, list[Found], bool]:
        """Walk the tree under directory `path` (never into symlinks) and keep what `wanted` says.

        Returns the directory's path, the entries kept (depth first, names sorted, at most
        `max_results`) and whether a limit (`max_results`, `max_visited`) cut the walk short.

        Raises:
            FsError: As for `Root.locate`, or the path is not a directory.
        """
        with self._root.locate(path) as location:
            _require_dir(location, path)
            walk = _TreeWalk(wanted, max_depth, max_results, max_visited)
            with reopened(location, _LIST_FLAGS) as fd:
                complete = walk.visit(fd, ())
        return location.path, walk.found[:max_results], not complete

    def write_bytes(self, path: RequestedPath, data: bytes, *, overwrite: bool) -> tuple[str, bool]:
        """Write `data` to the file at `path`; return its path and whether it was created.

        An existing file is replaced whole (a new file renamed over it), so a reader never
        sees half of it and a hard link elsewhere keeps the old content. The directory must
        exist already.

        Raises:
            FsError: As for `Root.locate`, or the path names a directory or special file, or
                the file exists and `overwrite` is false.
        """
        with self._root.locate(path, may_be_missing=True) as location:
            existing = location.status
            if location.name == "." or is_dir(existing):
                raise FsError(f"{show(path)!r} is a directory")
            if existing is not None and not stat.S_ISREG(existing.st_mode):
                raise FsError(f"{show(path)!r} is not a regular file")
            if existing is None or not overwrite:
                _create(location, path, data)
            else:
                _replace(location, data, stat.S_IMODE(existing.st_mode))
        return location.path, existing is None


class _TreeWalk:
    """A depth-first walk over directory descriptors that never enters a symlink."""

    def __init__(
        self,
        wanted: Callable[[tuple[str, ...]], bool],
        max_depth: int | None,
        max_results: int,
        max_visited: int,
    ) -> None:
        self.wanted = wanted
        self.max_depth = max_depth
        self.max_results = max_results
        self.budget = max_visited
        self.found: list[Found] = []

    def visit(self, fd: int, below: tuple[str, ...]) -> bool:
        """Visit the directory `fd` and what is under it; False once a limit stopped the walk."""
        with os.scandir(fd) as items:
            entries = sorted(items, key=lambda item: item.name)
        for item in entries:
            self.budget -= 1
            if self.budget < 0:
                return False
            parts = (*below, item.name)
            entry = _entry(item)
            if self.wanted(parts):
                self.found.append(Found(parts=parts, type=entry.type, size=entry.size))
                if len(self.found) > self.max_results:
                    return False
            if entry.type != "dir" or (self.max_depth is not None and len(parts) >= self.max_depth):
                continue
            try:
                child = os.open(item.name, _LIST_FLAGS, dir_fd=fd)
            except OSError:
                continue  # gone, unreadable, or swapped for a symlink since the scan: skip it
            try:
                if not self.visit(child, parts):
                    return False
            finally:
                os.close(child)
        return True


def _create(location: Location, path: RequestedPath, data: bytes) -> None:
    try:
        fd = os.open(location.name, _NEW_FILE_FLAGS, 0o666, dir_fd=location.dir_fd)
    except FileExistsError:
        raise FsError(f"{show(path)!r} exists; pass overwrite=true to replace it") from None
    except OSError as exc:
        raise FsError(f"cannot create {location.path!r}: {reason(exc)}") from None
    _fill(fd, location, location.name, data)


def _replace(location: Location, data: bytes, mode: int) -> None:
    temporary = f".{location.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(temporary, _NEW_FILE_FLAGS, 0o600, dir_fd=location.dir_fd)
    except OSError as exc:
        raise FsError(f"cannot write beside {location.path!r}: {reason(exc)}") from None
    os.fchmod(fd, mode)
    _fill(fd, location, temporary, data)
    try:
        # rename() replaces the name itself: a symlink swapped in meanwhile is not followed.
        os.replace(temporary, location.name, src_dir_fd=location.dir_fd, dst_dir_fd=location.dir_fd)
    except OSError as exc:
        os.unlink(temporary, dir_fd=location.dir_fd)
        raise FsError(f"cannot replace {location.path!r}: {reason(exc)}") from None


def _fill(fd: int, location: Location, name: str, data: bytes) -> None:
    """Write all of `data` to the new file `name` and close it; remove the file if that fails."""
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except OSError as exc:
        os.unlink(name, dir_fd=location.dir_fd)
        raise FsError(f"cannot write {location.path!r}: {reason(exc)}") from None


def _entry(item: os.DirEntry[str]) -> Entry:
    if item.is_symlink():
        return Entry(name=item.name, type="symlink", size=None)
    if item.is_dir(follow_symlinks=False):
        return Entry(name=item.name, type="dir", size=None)
    if item.is_file(follow_symlinks=False):
        info = item.stat(follow_symlinks=False)
        return Entry(name=item.name, type="file", size=info.st_size if info.st_nlink == 1 else None)
    return Entry(name=item.name, type="other", size=None)


def _require_dir(location: Location, path: RequestedPath) -> None:
    if not is_dir(location.status):
        raise FsError(f"{show(path)!r} is not a directory")


def _require_single_file(location: Location, path: RequestedPath) -> None:
    status = location.status
    assert status is not None
    if stat.S_ISDIR(status.st_mode):
        raise FsError(f"{show(path)!r} is a directory; use listDir")
    if not stat.S_ISREG(status.st_mode):
        raise FsError(f"{show(path)!r} is not a regular file")
    if status.st_nlink > 1:
        raise PathRefused(
            f"{show(path)!r} has {status.st_nlink} hard links; files with more than one are "
            "refused, since another link may lie outside the root"
        )


def _read_at_most(fd: int, count: int) -> bytes:
    chunks: list[bytes] = []
    remaining = count
    while remaining > 0:
        chunk = os.read(fd, min(remaining, _READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _too_large(path: RequestedPath, size: int, limit: int) -> FsError:
    return FsError(f"{show(path)!r} is {size} bytes, over the read limit of {limit} bytes")
