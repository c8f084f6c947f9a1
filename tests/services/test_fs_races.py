"""The check-then-open race: paths swapped for symlinks (or other files) in the middle of a walk.

The deterministic tests wrap the `os` module the fs walk calls, so that a swap happens right
after one chosen system call: the real calls still run, on a real file system, only the timing
is forced. Each swap tries to redirect the walk to a directory outside the root holding the
same names with `SENTINEL` content. The stress tests swap from another thread while the
service reads, as many times as they can, and check the same thing: no sentinel, ever.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from micro_mcp.services.fs import sandbox, walk
from micro_mcp.services.fs.errors import FsError
from micro_mcp.services.fs.pattern import compile_glob
from micro_mcp.services.fs.roots import Roots

SENTINEL = "SENTINEL-races-outside"


@dataclass(frozen=True)
class Place:
    """A root with `docs/guide.md`, and `outside/` beside it with the same names."""

    root: Path
    outside: Path

    def roots(self) -> Roots:
        return Roots([("root", self.root)])

    def swap_docs_for_link(self) -> None:
        """Move `docs` aside (still inside the root) and put a symlink to outside in its place."""
        (self.root / "docs").rename(self.root / "docs-old")
        (self.root / "docs").symlink_to(self.outside)

    def swap_guide_for_link(self) -> None:
        (self.root / "docs" / "guide.md").unlink()
        (self.root / "docs" / "guide.md").symlink_to(self.outside / "guide.md")

    def swap_guide_for_hard_link(self) -> None:
        (self.root / "docs" / "guide.md").unlink()
        os.link(self.outside / "guide.md", self.root / "docs" / "guide.md")

    def outside_files(self) -> dict[str, bytes]:
        return {p.name: p.read_bytes() for p in sorted(self.outside.iterdir())}


@pytest.fixture
def place(tmp_path: Path) -> Place:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "docs").mkdir(parents=True)
    outside.mkdir()
    (root / "docs" / "guide.md").write_text("inside\n", encoding="utf-8")
    (outside / "guide.md").write_text(SENTINEL, encoding="utf-8")
    (outside / "other.md").write_text(SENTINEL, encoding="utf-8")
    return Place(root, outside)


class RacingOs:
    """The real `os` module, except that `swap` runs once around one chosen call on `name`."""

    def __init__(self, call: str, name: str, swap: Callable[[], None], *, before: bool) -> None:
        self.call, self.name, self.swap, self.before = call, name, swap, before
        self.swapped = False

    def __getattr__(self, attribute: str) -> Any:
        return getattr(os, attribute)

    def _around(self, call: str, real: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        chosen = call == self.call and args[0] == self.name and not self.swapped
        if chosen and self.before:
            self.swapped = True
            self.swap()
        try:
            return real(*args, **kwargs)
        finally:
            if chosen and not self.swapped:
                self.swapped = True
                self.swap()

    def stat(self, *args: Any, **kwargs: Any) -> Any:
        return self._around("stat", os.stat, *args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return self._around("open", os.open, *args, **kwargs)


@dataclass(frozen=True)
class Race:
    """One forced race: which call on which name, what is swapped, and what must happen."""

    id: str
    operation: Callable[[Roots], object]
    call: str
    name: str
    swap: Callable[[Place], None]
    outcome: str
    """"refused" (an FsError saying the path changed) or "inside" (it acted on the old file)."""
    before: bool = False


def read_guide(roots: Roots) -> object:
    return roots.read_bytes("docs/guide.md", 1000)


RACES = [
    Race("dir-becomes-symlink-after-lstat", read_guide, "stat", "docs",
         Place.swap_docs_for_link, "refused"),
    Race("file-becomes-symlink-after-lstat", read_guide, "stat", "guide.md",
         Place.swap_guide_for_link, "refused"),
    Race("file-becomes-hard-link-after-lstat", read_guide, "stat", "guide.md",
         Place.swap_guide_for_hard_link, "refused"),
    Race("listed-dir-becomes-symlink", lambda r: r.list_dir("docs", 100), "stat", "docs",
         Place.swap_docs_for_link, "refused"),
    Race("stat-dir-becomes-symlink", lambda r: r.status("docs/guide.md"), "stat", "docs",
         Place.swap_docs_for_link, "refused"),
    Race("parent-becomes-symlink-after-walk", read_guide, "stat", "guide.md",
         Place.swap_docs_for_link, "inside"),
    Race("write-parent-becomes-symlink-after-walk",
         lambda r: r.write_bytes("docs/new.md", b"new", overwrite=True), "stat", "new.md",
         Place.swap_docs_for_link, "inside"),
    Race("write-target-becomes-symlink-after-walk",
         lambda r: r.write_bytes("docs/guide.md", b"new", overwrite=True), "stat", "guide.md",
         Place.swap_guide_for_link, "inside"),
]  # fmt: skip


@pytest.mark.parametrize("race", RACES, ids=[race.id for race in RACES])
def test_swap_during_a_walk_never_reaches_outside(
    place: Place, race: Race, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = place.roots()
    racing = RacingOs(race.call, race.name, lambda: race.swap(place), before=race.before)
    monkeypatch.setattr(walk, "os", racing)
    before = place.outside_files()

    if race.outcome == "refused":
        with pytest.raises(FsError, match="changed while it was being opened"):
            race.operation(roots)
    else:
        outcome = race.operation(roots)
        assert SENTINEL not in repr(outcome)

    assert racing.swapped, "the race was never set up: the walk no longer makes that call"
    assert place.outside_files() == before


def test_glob_does_not_enter_a_directory_swapped_for_a_symlink(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    roots = place.roots()
    racing = RacingOs("open", "docs", place.swap_docs_for_link, before=True)
    monkeypatch.setattr(sandbox, "os", racing)
    pattern = compile_glob("**")

    _, found, _ = roots.find(
        ".", pattern.matches, max_depth=None, max_results=100, max_visited=1000
    )

    assert racing.swapped
    assert [f.parts for f in found] == [("docs",)]


@pytest.mark.parametrize("replacement", ["symlink", "directory"])
def test_root_replaced_after_start_is_refused(place: Place, replacement: str) -> None:
    roots = place.roots()
    place.root.rename(place.root.with_name("root-old"))
    if replacement == "symlink":
        place.root.symlink_to(place.outside)
    else:
        place.root.mkdir()
        (place.root / "guide.md").write_text(SENTINEL, encoding="utf-8")

    with pytest.raises(FsError, match="root directory was replaced"):
        roots.read_bytes("guide.md", 1000)


@pytest.fixture
def flipping(place: Place) -> Iterator[Callable[[], int]]:
    """A thread that swaps `docs` between a directory and a symlink to outside, until the end."""
    stop = threading.Event()
    flips = [0]

    def flip() -> None:
        docs, parked = place.root / "docs", place.root / "parked"
        while not stop.is_set():
            docs.rename(parked)
            docs.symlink_to(place.outside)
            docs.unlink()
            parked.rename(docs)
            flips[0] += 1

    thread = threading.Thread(target=flip, daemon=True)
    thread.start()
    try:
        yield lambda: flips[0]
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("operation", ["read", "list", "glob", "write"])
def test_concurrent_swaps_never_leak_or_write_outside(
    place: Place, flipping: Callable[[], int], operation: str
) -> None:
    roots = place.roots()
    before = place.outside_files()
    pattern = compile_glob("**")
    calls: dict[str, Callable[[], object]] = {
        "read": lambda: roots.read_bytes("docs/guide.md", 1000),
        "list": lambda: roots.list_dir("docs", 100),
        "glob": lambda: roots.find(
            ".", pattern.matches, max_depth=None, max_results=100, max_visited=1000
        ),
        "write": lambda: roots.write_bytes("docs/new.md", b"mine", overwrite=True),
    }
    outcomes: dict[str, int] = {}

    for _ in range(1500):
        try:
            result = calls[operation]()
        except FsError as exc:
            result = exc
        assert SENTINEL not in repr(result)
        assert "other.md" not in repr(result)
        outcomes[type(result).__name__] = outcomes.get(type(result).__name__, 0) + 1

    assert place.outside_files() == before
    assert flipping() > 0
