"""The roots a server serves, and which of them a requested path means.

With one root, a path is relative to it (`docs/a.md`). With several, each has a name and a
path starts with it (`docs/a.md` is `a.md` in the root named `docs`); `.` is then a virtual
directory whose entries are the roots. A `..` never climbs from one root into another: every
walk starts at, and stays beneath, one root.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from micro_mcp.services.fs.errors import FsError, PathNotFound, PathRefused
from micro_mcp.services.fs.paths import RequestedPath, parse
from micro_mcp.services.fs.sandbox import Entry, Found, Listing, Sandbox

ROOT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
"""What a root's name may be: one plain path component."""


class Roots:
    """The named roots of one server, each a `Sandbox`."""

    def __init__(self, roots: Sequence[tuple[str, Path | str]]) -> None:
        """Open each root.

        Raises:
            FsError: No roots, a bad or duplicate name, or a root that is not a directory.
        """
        if not roots:
            raise FsError("at least one root directory is needed")
        self._sandboxes: dict[str, Sandbox] = {}
        for name, directory in roots:
            if not ROOT_NAME.match(name) or name in (".", ".."):
                raise FsError(f"root name {name!r} must be one plain path component")
            if name in self._sandboxes:
                raise FsError(f"two roots are named {name!r}; name them: --root NAME=DIR")
            self._sandboxes[name] = Sandbox(directory)

    @property
    def names(self) -> list[str]:
        """The roots' names, in the order given."""
        return list(self._sandboxes)

    def route(self, requested: str) -> tuple[Sandbox | None, RequestedPath, str]:
        """Check `requested`; return its root (None for the virtual top), rest and prefix.

        Raises:
            PathRefused: The path is malformed or climbs above the roots.
            PathNotFound: No root has the path's first component as its name.
        """
        path = parse(requested)
        if len(self._sandboxes) == 1:
            [sandbox] = self._sandboxes.values()
            return sandbox, path, ""
        if not path.parts:
            return None, path, ""
        first, *rest = path.parts
        if first == "..":
            raise PathRefused(f"{requested!r} leads outside the roots")
        sandbox = self._sandboxes.get(first)
        if sandbox is None:
            raise PathNotFound(
                f"no root named {first!r}: paths start with one of {', '.join(self.names)}"
            )
        below = RequestedPath(tuple(rest), path.trailing_slash, text=requested)
        return sandbox, below, first

    def list_dir(self, requested: str, limit: int) -> Listing:
        """List a directory; with several roots, `.` lists the roots."""
        sandbox, path, prefix = self.route(requested)
        if sandbox is None:
            entries = [Entry(name=name, type="dir", size=None) for name in self.names]
            return Listing(path=".", entries=entries[:limit], truncated=len(entries) > limit)
        listing = sandbox.list_dir(path, limit)
        return Listing(_join(prefix, listing.path), listing.entries, listing.truncated)

    def read_bytes(self, requested: str, limit: int) -> tuple[str, bytes]:
        """Read a regular file of at most `limit` bytes; see `Sandbox.read_bytes`."""
        sandbox, path, prefix = self._on_disk(requested, "is the list of roots; use listDir")
        found, data = sandbox.read_bytes(path, limit)
        return _join(prefix, found), data

    def status(self, requested: str) -> tuple[str, os.stat_result]:
        """The status of what a path names; see `Sandbox.status`."""
        sandbox, path, prefix = self._on_disk(requested, "is the list of roots; use listDir")
        found, status = sandbox.status(path)
        return _join(prefix, found), status

    def write_bytes(self, requested: str, data: bytes, *, overwrite: bool) -> tuple[str, bool]:
        """Write a file; see `Sandbox.write_bytes`."""
        sandbox, path, prefix = self._on_disk(requested, "is the list of roots, not a file")
        found, created = sandbox.write_bytes(path, data, overwrite=overwrite)
        return _join(prefix, found), created

    def find(
        self,
        requested: str,
        wanted: Callable[[tuple[str, ...]], bool],
        *,
        max_depth: int | None,
        max_results: int,
        max_visited: int,
    ) -> tuple[str, list[Found], bool]:
        """Search a tree; see `Sandbox.find`. At the virtual top, search every root in turn."""
        sandbox, path, prefix = self.route(requested)
        if sandbox is not None:
            found, entries, truncated = sandbox.find(
                path, wanted, max_depth=max_depth, max_results=max_results, max_visited=max_visited
            )
            return _join(prefix, found), entries, truncated
        every: list[Found] = []
        for name, each in self._sandboxes.items():
            if wanted((name,)):
                every.append(Found((name,), "dir", None))
            if max_depth == 1 or len(every) > max_results:
                continue
            _, entries, truncated = each.find(
                path,
                lambda parts, name=name: wanted((name, *parts)),
                max_depth=None if max_depth is None else max_depth - 1,
                max_results=max_results - len(every),
                max_visited=max_visited,
            )
            every += [Found((name, *e.parts), e.type, e.size) for e in entries]
            if truncated:
                return ".", every[:max_results], True
        return ".", every[:max_results], len(every) > max_results

    def _on_disk(self, requested: str, why_not: str) -> tuple[Sandbox, RequestedPath, str]:
        sandbox, path, prefix = self.route(requested)
        if sandbox is None:
            raise FsError(f"{requested!r} {why_not}")
        return sandbox, path, prefix


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return prefix if path == "." else f"{prefix}/{path}"
