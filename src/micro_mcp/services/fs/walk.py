"""File access confined to one root directory, by a walk over directory descriptors.

Resolving a path to a string, checking the string and then opening it by name leaves a window
in which a directory on the way is swapped for a symlink (the check-then-open race). So no
path is ever opened by name from `/`. A request is walked one component at a time from a
descriptor of the root, each directory opened relative to its parent's descriptor with
`O_NOFOLLOW`:

- a symlink is never followed by the kernel: its target is read (`readlinkat`) and walked by
  the same rules, so a symlink that stays inside the root works and one that leaves is refused
  (an absolute target must start with the root as given or as resolved);
- `..` pops the directory stack the walk holds; it never opens `..`, and at the root it refuses;
- every directory opened is checked to be the one just `lstat`ed (device and inode), so a swap
  in between fails the request instead of being followed.

Linux has `openat2(RESOLVE_BENEATH)` for this, but the standard library has no binding, and it
refuses absolute symlinks even when they point inside the root; the walk does the same job in
user space on every POSIX system, in one code path.

What this cannot see: a hard link is the file itself, wherever its other names are, so regular
files with more than one link are refused. And a directory moved out of the root while a walk
holds it is out of scope: whoever can do that can move the file itself.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from micro_mcp.services.fs.errors import FsError, PathNotFound, PathRefused
from micro_mcp.services.fs.paths import RequestedPath

MAX_SYMLINKS = 40
"""Symlinks followed in one walk before giving up, as the kernel's ELOOP limit."""

_DIR_FLAGS = getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""Directories on the way are opened only to walk through them: O_PATH needs no read right."""


@dataclass(frozen=True, slots=True)
class Location:
    """Where a walk ended: the entry `name` in the open directory `dir_fd`."""

    dir_fd: int
    name: str
    path: str
    """Relative to the root, symlinks resolved; `.` for the root itself."""
    status: os.stat_result | None
    """The entry's own status (never a symlink's); None if it does not exist yet."""


class Root:
    """One root directory, pinned by its identity, and the walks that stay beneath it."""

    def __init__(self, root: Path | str) -> None:
        """Resolve the root and remember which directory it is.

        Raises:
            FsError: The root does not exist or is not a directory.
        """
        try:
            resolved = Path(root).resolve(strict=True)
            status = os.stat(resolved)
        except (OSError, RuntimeError) as exc:
            raise FsError(f"root directory {str(root)!r} is not accessible") from exc
        if not stat.S_ISDIR(status.st_mode):
            raise FsError(f"root {str(root)!r} is not a directory")
        self.path = resolved
        self._identity = (status.st_dev, status.st_ino)
        # Absolute symlink targets may name the root either way it is known.
        given = PurePosixPath(os.path.abspath(root))
        self._prefixes = {PurePosixPath(resolved).parts, given.parts}

    @contextmanager
    def locate(
        self, path: RequestedPath, *, may_be_missing: bool = False
    ) -> Generator[Location, None, None]:
        """Walk `path` from the root, following symlinks only inside it; yield where it ends.

        The descriptors the walk opened stay open until the block ends.

        Raises:
            PathRefused: The path, or a symlink on the way, leads outside the root.
            PathNotFound: A component does not exist (the last one may, if `may_be_missing`).
            FsError: A component is not a directory, changed during the walk, or cannot be
                read.
        """
        walk = _Walk(self, path)
        try:
            location = walk.run(may_be_missing=may_be_missing)
            if path.trailing_slash and not is_dir(location.status):
                raise FsError(f"{show(path)!r} is not a directory")
            yield location
        finally:
            walk.close()

    def open(self) -> int:
        """Open the root directory and check it is still the one this was made for."""
        try:
            fd = os.open(self.path, _DIR_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise FsError("the root directory was replaced since the server started") from None
            raise FsError("the root directory is no longer accessible") from None
        status = os.fstat(fd)
        if (status.st_dev, status.st_ino) != self._identity:
            os.close(fd)
            raise FsError("the root directory was replaced since the server started")
        return fd

    def below(self, target: str) -> list[str] | None:
        """The components below the root of an absolute symlink target, or None if outside."""
        parts = PurePosixPath(target).parts
        for prefix in self._prefixes:
            if parts[: len(prefix)] == prefix:
                return list(parts[len(prefix) :])
        return None


class _Walk:
    """One walk of a requested path, holding open the directories it is in until `close`."""

    def __init__(self, root: Root, path: RequestedPath) -> None:
        self.root = root
        self.path = path
        self.root_fd = root.open()
        self.stack: list[tuple[str, int]] = []
        """The (name, descriptor) of each directory below the root that the walk is in."""

    def close(self) -> None:
        """Close every descriptor the walk still holds."""
        while self.stack:
            os.close(self.stack.pop()[1])
        os.close(self.root_fd)

    def run(self, *, may_be_missing: bool) -> Location:
        pending = list(reversed(self.path.parts))
        hops = 0
        while pending:
            part = pending.pop()
            if part == "..":
                self._leave()
                continue
            status = self._lstat(part, missing_ok=may_be_missing and not pending)
            if status is None:
                return Location(self._top(), part, self._where(part), None)
            if stat.S_ISLNK(status.st_mode):
                hops += 1
                if hops > MAX_SYMLINKS:
                    raise FsError(f"{show(self.path)!r}: too many levels of symbolic links")
                pending.extend(reversed(self._link_parts(part)))
            elif pending:
                self._enter(part, status)
            else:
                return Location(self._top(), part, self._where(part), status)
        # The path ended on a directory the walk holds (the root, or after `..`).
        return Location(self._top(), ".", self._where(None), os.fstat(self._top()))

    def _top(self) -> int:
        return self.stack[-1][1] if self.stack else self.root_fd

    def _where(self, name: str | None) -> str:
        names = [entry for entry, _ in self.stack] + ([name] if name is not None else [])
        return "/".join(names) or "."

    def _leave(self) -> None:
        if not self.stack:
            raise PathRefused(f"{show(self.path)!r} leads outside the root")
        os.close(self.stack.pop()[1])

    def _lstat(self, part: str, *, missing_ok: bool) -> os.stat_result | None:
        try:
            return os.stat(part, dir_fd=self._top(), follow_symlinks=False)
        except FileNotFoundError:
            if missing_ok:
                return None
            raise PathNotFound(f"no such file or directory: {show(self.path)!r}") from None
        except OSError as exc:
            raise failed(self.path, exc) from None

    def _link_parts(self, part: str) -> list[str]:
        try:
            target = os.readlink(part, dir_fd=self._top())
        except OSError as exc:
            # EINVAL: it is no longer a symlink, so it changed since the lstat.
            raise failed(self.path, exc) from None
        if target.startswith("/"):
            below = self.root.below(target)
            if below is None:
                raise PathRefused(f"{show(self.path)!r} leads outside the root through a symlink")
            while self.stack:
                os.close(self.stack.pop()[1])
            return [p for p in below if p not in ("", ".")]
        return [p for p in target.split("/") if p not in ("", ".")]

    def _enter(self, part: str, status: os.stat_result) -> None:
        if not stat.S_ISDIR(status.st_mode):
            raise FsError(f"{show(self.path)!r}: {self._where(part)!r} is not a directory")
        try:
            fd = os.open(part, _DIR_FLAGS, dir_fd=self._top())
        except OSError as exc:
            raise failed(self.path, exc) from None
        # On the stack before the check, so that `close` closes it whatever happens.
        self.stack.append((part, fd))
        _require_same(fd, status, self.path)


@contextmanager
def reopened(location: Location, flags: int) -> Generator[int, None, None]:
    """Open the entry a walk found, refusing it if it is no longer the same file."""
    try:
        fd = os.open(location.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=location.dir_fd)
    except OSError as exc:
        raise failed(location.path, exc) from None
    try:
        if location.status is not None:
            _require_same(fd, location.status, location.path)
        yield fd
    finally:
        os.close(fd)


def is_dir(status: os.stat_result | None) -> bool:
    """Whether `status` is that of a directory."""
    return status is not None and stat.S_ISDIR(status.st_mode)


def _require_same(fd: int, expected: os.stat_result, shown: RequestedPath | str) -> None:
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (expected.st_dev, expected.st_ino):
        raise FsError(f"{show(shown)!r} changed while it was being opened; try again")


def show(path: RequestedPath | str) -> str:
    """The path as the caller wrote it, for messages."""
    text = path if isinstance(path, str) else path.text
    return text or "."


def failed(path: RequestedPath | str, exc: OSError) -> FsError:
    """The error for opening a step of `path` that failed with `exc`."""
    if exc.errno in (errno.ELOOP, errno.EINVAL, errno.ENOTDIR, errno.ENOENT):
        return FsError(f"{show(path)!r} changed while it was being opened; try again")
    return FsError(f"cannot open {show(path)!r}: {reason(exc)}")


def reason(exc: OSError) -> str:
    """The error's own words without its file name, which may name something outside."""
    return exc.strerror or type(exc).__name__
