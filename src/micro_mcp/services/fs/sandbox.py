"""Confinement of file access to one root directory.

A requested path is always relative to the root; absolute paths are refused rather than
re-rooted, so a caller never has to guess which of two meanings applied. A path is admitted
only if its fully resolved form (every symlink followed) lies inside the resolved root,
compared by path components, so root `/data` never admits `/data-evil`.

Resolving and then opening by name would leave a window in which a directory on the way is
swapped for a symlink. So after the check, files are opened by walking the resolved relative
path one component at a time from a descriptor of the root, with `O_NOFOLLOW` at every step:
a component that became a symlink since the check fails to open instead of being followed.
This relies on `dir_fd` support, so the module is POSIX-only.

Error messages only ever repeat what the caller sent; they never name a path outside the root.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

EntryType = Literal["file", "dir", "symlink", "other"]
"""What a directory entry is, judged without following symlinks."""


class FsError(Exception):
    """A refused or failed file access; the message is safe to show to the client."""


class PathNotFound(FsError):
    """The requested path does not exist inside the root."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry; `size` is set for regular files only."""

    name: str
    type: EntryType
    size: int | None


@dataclass(frozen=True, slots=True)
class Listing:
    """A directory's entries, sorted by name; `path` is relative to the root."""

    path: str
    entries: list[Entry]


@dataclass(frozen=True, slots=True)
class TextFile:
    """A file read as text; `path` is relative to the root, symlinks resolved."""

    path: str
    text: str
    size: int


_READ_CHUNK = 64 * 1024
"""Bytes per read() call; reads stop one byte past the limit, whatever the file claims."""


class Sandbox:
    """Read-only access to the files under one root directory."""

    def __init__(self, root: Path | str) -> None:
        """Resolve and remember the root.

        Raises:
            FsError: The root does not exist or is not a directory.
        """
        try:
            resolved = Path(root).resolve(strict=True)
        except (OSError, RuntimeError) as exc:
            raise FsError(f"root directory {str(root)!r} is not accessible") from exc
        if not resolved.is_dir():
            raise FsError(f"root {str(root)!r} is not a directory")
        self.root = resolved

    def locate(self, requested: str) -> PurePosixPath:
        """Return `requested` resolved and made relative to the root (`.` for the root itself).

        Raises:
            PathNotFound: The path does not exist (and would lie inside the root).
            FsError: The path is absolute, contains a NUL byte, or resolves outside the root.
        """
        if "\0" in requested:
            raise FsError("path contains a NUL byte")
        relative = Path(requested or ".")
        if relative.is_absolute():
            raise FsError(
                f"absolute path {requested!r} refused: give a path relative to the root, "
                "e.g. 'docs/readme.md'"
            )
        candidate = self.root / relative
        try:
            resolved = candidate.resolve(strict=True)
        except (FileNotFoundError, NotADirectoryError):
            # Decide "outside" before "missing", so a probe cannot learn which paths exist
            # outside the root from the kind of error it gets.
            self._require_inside(self._resolve_loosely(candidate, requested), requested)
            raise PathNotFound(f"no such file or directory: {requested!r}") from None
        except (OSError, RuntimeError) as exc:
            # Symlink loops, or permission denied on the way.
            raise FsError(f"cannot resolve {requested!r}") from exc
        self._require_inside(resolved, requested)
        return PurePosixPath(resolved.relative_to(self.root).as_posix())

    def list_dir(self, requested: str) -> Listing:
        """List the directory at `requested`.

        Raises:
            FsError: As for `locate`, or the path is not a directory.
        """
        relative = self.locate(requested)
        with self._open(relative, requested, directory=True) as fd, os.scandir(fd) as entries:
            found = [_entry(item) for item in entries]
        return Listing(path=relative.as_posix(), entries=sorted(found, key=lambda e: e.name))

    def read_text(self, requested: str, limit: int) -> TextFile:
        """Read the regular file at `requested` as UTF-8 text of at most `limit` bytes.

        Raises:
            FsError: As for `locate`, or the file is not a regular file, is larger than
                `limit` bytes, or is not UTF-8 text.
        """
        relative = self.locate(requested)
        with self._open(relative, requested, directory=False) as fd:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise FsError(f"{requested!r} is a directory; use listDir")
            if not stat.S_ISREG(info.st_mode):
                raise FsError(f"{requested!r} is not a regular file")
            if info.st_size > limit:
                raise _too_large(requested, info.st_size, limit)
            data = _read_at_most(fd, limit + 1)
        if len(data) > limit:
            raise _too_large(requested, len(data), limit)
        # UTF-8 allows NUL, but no text file contains one: it marks binary content.
        if b"\0" in data:
            raise _not_text(requested)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _not_text(requested) from None
        return TextFile(path=relative.as_posix(), text=text, size=len(data))

    def _require_inside(self, resolved: Path, requested: str) -> None:
        if not resolved.is_relative_to(self.root):
            raise FsError(f"{requested!r} is outside the allowed root")

    def _resolve_loosely(self, candidate: Path, requested: str) -> Path:
        try:
            return candidate.resolve(strict=False)
        except (OSError, RuntimeError) as exc:
            raise FsError(f"cannot resolve {requested!r}") from exc

    @contextmanager
    def _open(
        self, relative: PurePosixPath, requested: str, *, directory: bool
    ) -> Generator[int, None, None]:
        """Open `relative` under the root without following any symlink; yield the descriptor."""
        parts = [part for part in relative.parts if part != "."]
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                if directory or not last:
                    flags |= os.O_DIRECTORY
                else:
                    # A FIFO would block open() forever; O_NONBLOCK lets fstat() reject it.
                    flags |= os.O_NONBLOCK
                try:
                    child = os.open(part, flags, dir_fd=fd)
                except NotADirectoryError:
                    if last:
                        raise FsError(f"{requested!r} is not a directory") from None
                    # locate() saw a directory here, so it was swapped since: refuse the race.
                    raise FsError(f"cannot open {requested!r}: it changed while opening") from None
                except OSError as exc:
                    # ELOOP means the last component became a symlink after locate() checked it.
                    raise FsError(f"cannot open {requested!r}") from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)


def _entry(item: os.DirEntry[str]) -> Entry:
    if item.is_symlink():
        return Entry(name=item.name, type="symlink", size=None)
    if item.is_dir(follow_symlinks=False):
        return Entry(name=item.name, type="dir", size=None)
    if item.is_file(follow_symlinks=False):
        return Entry(name=item.name, type="file", size=item.stat(follow_symlinks=False).st_size)
    return Entry(name=item.name, type="other", size=None)


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


def _too_large(requested: str, size: int, limit: int) -> FsError:
    return FsError(f"{requested!r} is {size} bytes, over the read limit of {limit} bytes")


def _not_text(requested: str) -> FsError:
    return FsError(f"{requested!r} is not UTF-8 text (binary content); only text files can be read")
