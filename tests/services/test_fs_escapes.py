"""The escape corpus: attempts to reach files outside the fs service's root. Zero may succeed.

`CORPUS` below is data, one `Attempt` a line, grouped by class: prefix-matched roots
(CVE-2025-53110), symlinks out (CVE-2025-53109), symlink chains, hard links, `..` in every
form, absolute paths, encoded and look-alike forms, globs, resource URIs and writes. Races
(a directory swapped for a symlink during a walk) are in test_fs_races.py.

Every file outside the root holds `SENTINEL`; one has the name `UNLISTED`, which no attempt
mentions. Each attempt runs through a real `mcp.Client` against the server, and then:
the reply (text, structured content, error message and data) never holds `SENTINEL` or
`UNLISTED`, nor the temporary directory unless the attempt itself named it; nothing outside
the root changed; the reply is an error unless `expect` is "contained"; and the same call on
the service's `Roots` raises the class of error `expect` names ("refused": `PathRefused`,
"missing": `PathNotFound`, "error": another `FsError`). test_fs_processes.py replays the
corpus through the gateway.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client, MCPError
from mcp.types import TextContent, TextResourceContents

from micro_mcp.services.fs.errors import FsError, PathNotFound, PathRefused
from micro_mcp.services.fs.pattern import compile_glob
from micro_mcp.services.fs.roots import Roots
from micro_mcp.services.fs.server import build_server

pytestmark = pytest.mark.anyio

SENTINEL = f"SENTINEL-{uuid.uuid4().hex}"
"""The content of every file outside the root."""

UNLISTED = f"unlisted-{uuid.uuid4().hex}"
"""The name of a file outside the root that no attempt mentions."""

Expect = Literal["refused", "missing", "error", "contained"]


@dataclass(frozen=True)
class Attempt:
    """One escape attempt: a tool call (or `resource` read) and how it must end.

    Strings in `args` may hold `{tmp}` (the directory holding root and outside) and `{root}`.
    """

    id: str
    tool: str
    args: dict[str, Any]
    expect: Expect
    found: list[str] | None = field(default=None)
    """For a contained listDir or glob: exactly the names or paths it must return."""

    def bind(self, world: World) -> dict[str, Any]:
        """The arguments with the world's directories filled in."""
        return {
            key: value.format(tmp=world.tmp, root=world.root) if isinstance(value, str) else value
            for key, value in self.args.items()
        }


def read(path: str) -> dict[str, Any]:
    return {"path": path}


def uri(text: str) -> dict[str, Any]:
    return {"uri": text}


R, L, S, G, W, U = "readFileText", "listDir", "stat", "glob", "writeFileText", "resource"

# fmt: off
CORPUS: list[Attempt] = [
    # -- root compared by components, not by string prefix (CVE-2025-53110) ------------------
    Attempt("prefix-sibling-relative", R, read("../root-evil/secret.txt"), "refused"),
    Attempt("prefix-sibling-list", L, read("../root-evil"), "refused"),
    Attempt("prefix-sibling-absolute", R, read("{tmp}/root-evil/secret.txt"), "refused"),
    Attempt("prefix-sibling-via-symlink", R, read("evil-sibling/secret.txt"), "refused"),
    Attempt("prefix-sibling-via-abs-symlink", R, read("abs-evil-sibling/secret.txt"), "refused"),
    Attempt("prefix-sibling-symlink-list", L, read("evil-sibling"), "refused"),
    Attempt("prefix-sibling-symlink-stat", S, read("abs-evil-sibling"), "refused"),
    # -- absolute paths ----------------------------------------------------------------------
    Attempt("absolute-etc-passwd", R, read("/etc/passwd"), "refused"),
    Attempt("absolute-double-slash", R, read("//etc/passwd"), "refused"),
    Attempt("absolute-outside-secret", R, read("{tmp}/outside/secret.txt"), "refused"),
    Attempt("absolute-inside-root", R, read("{root}/hello.txt"), "refused"),
    Attempt("absolute-list-slash", L, read("/"), "refused"),
    Attempt("absolute-stat-proc", S, read("/proc/self/environ"), "refused"),
    Attempt("tilde-is-a-plain-name", R, read("~/../outside/secret.txt"), "missing"),
    Attempt("file-url-as-path", R, read("file:///etc/passwd"), "missing"),
    # -- `..` in every form ------------------------------------------------------------------
    Attempt("dotdot-parent", R, read("../secret.txt"), "refused"),
    Attempt("dotdot-outside", R, read("../outside/secret.txt"), "refused"),
    Attempt("dotdot-after-subdir", R, read("docs/../../outside/secret.txt"), "refused"),
    Attempt("dotdot-with-dots", R, read("./docs/./../.././outside/secret.txt"), "refused"),
    Attempt("dotdot-doubled-slashes", R, read("docs//..//..//outside//secret.txt"), "refused"),
    Attempt("dotdot-many", R, read("../../../../../../../../../../etc/passwd"), "refused"),
    Attempt("dotdot-list", L, read(".."), "refused"),
    Attempt("dotdot-list-trailing-slash", L, read("../"), "refused"),
    Attempt("dotdot-stat", S, read("../outside"), "refused"),
    Attempt("dotdot-missing-outside", R, read("../no-such-file.txt"), "refused"),
    Attempt("dotdot-through-inside-link", R, read("docs/up/../outside/secret.txt"), "refused"),
    Attempt("dotdot-after-abs-inside-link", R, read("root-alias/../outside/secret.txt"), "refused"),
    Attempt("three-dots-is-a-name", R, read(".../outside/secret.txt"), "missing"),
    Attempt("dotdot-space-is-a-name", R, read(".. /outside/secret.txt"), "missing"),
    # -- encoded, escaped and look-alike forms -----------------------------------------------
    Attempt("percent-dotdot", R, read("%2e%2e/outside/secret.txt"), "refused"),
    Attempt("percent-upper-all", R, read("%2E%2E%2Foutside%2Fsecret.txt"), "refused"),
    Attempt("percent-slash-only", R, read("..%2foutside%2fsecret.txt"), "refused"),
    Attempt("percent-double-encoded", R, read("%252e%252e/outside/secret.txt"), "refused"),
    Attempt("percent-backslash", R, read("..%5coutside%5csecret.txt"), "refused"),
    Attempt("backslash-dotdot", R, read("..\\outside\\secret.txt"), "refused"),
    Attempt("backslash-mixed", R, read("docs\\..\\../outside/secret.txt"), "refused"),
    Attempt("fullwidth-dots", R, read("\uff0e\uff0e/outside/secret.txt"), "refused"),
    Attempt("fullwidth-dots-and-slash", R, read("\uff0e\uff0e\uff0foutside/secret.txt"), "refused"),
    Attempt("two-dot-leader", R, read("\u2025/outside/secret.txt"), "refused"),
    Attempt("small-full-stops", R, read("\ufe52\ufe52/outside/secret.txt"), "refused"),
    Attempt("fullwidth-backslash", R, read("..\uff3coutside\uff3csecret.txt"), "refused"),
    Attempt("division-slash-is-a-name", R, read("..\u2215outside\u2215secret.txt"), "missing"),
    Attempt("overlong-utf8-surrogates", R, read("\udcc0\udcae\udcc0\udcae/outside/secret.txt"),
            "refused"),
    Attempt("overlong-utf8-as-latin1", R, read("\u00c0\u00ae\u00c0\u00ae/outside/secret.txt"),
            "missing"),
    Attempt("replacement-characters", R, read("\ufffd\ufffd/outside/secret.txt"), "refused"),
    Attempt("nul-truncation", R, read("hello.txt\0/../../outside/secret.txt"), "refused"),
    Attempt("nul-suffix", R, read("../outside/secret.txt\0.txt"), "refused"),
    Attempt("control-character", R, read("..\t/outside/secret.txt"), "refused"),
    Attempt("escape-sequence", R, read("\x1b[2J../outside/secret.txt"), "refused"),
    Attempt("overlong-path", R, read("a/" * 2100 + "../secret.txt"), "refused"),
    # -- symlinks that point outside (CVE-2025-53109) ----------------------------------------
    Attempt("symlink-file-relative", R, read("link-out.txt"), "refused"),
    Attempt("symlink-file-absolute", R, read("abs-out.txt"), "refused"),
    Attempt("symlink-file-stat", S, read("link-out.txt"), "refused"),
    Attempt("symlink-dir-relative", R, read("link-out-dir/secret.txt"), "refused"),
    Attempt("symlink-dir-absolute", R, read("abs-out-dir/secret.txt"), "refused"),
    Attempt("symlink-dir-list", L, read("link-out-dir"), "refused"),
    Attempt("symlink-dir-list-abs", L, read("abs-out-dir/"), "refused"),
    Attempt("symlink-dir-deeper", R, read("link-out-dir/sub/deep.txt"), "refused"),
    Attempt("symlink-abs-with-dotdot", R, read("abs-dotdot"), "refused"),
    Attempt("symlink-dangling-outside", R, read("dangling-out"), "refused"),
    Attempt("symlink-in-subdir-climbing", R, read("docs/upup/outside/secret.txt"), "refused"),
    Attempt("symlink-to-symlink-out", R, read("docs/link-back-out"), "refused"),
    Attempt("symlink-proc-self-root", R, read("proc-root/etc/passwd"), "refused"),
    Attempt("symlink-proc-self-cwd", L, read("proc-cwd"), "refused"),
    Attempt("symlink-proc-self-fd", L, read("proc-fd"), "refused"),
    Attempt("symlink-loop", R, read("loop-a"), "error"),
    # -- chains of symlinks to directories ---------------------------------------------------
    Attempt("chain-to-outside-dir", R, read("chain1/secret.txt"), "refused"),
    Attempt("chain-list", L, read("chain1"), "refused"),
    Attempt("chain-stat", S, read("chain2"), "refused"),
    Attempt("chain-then-dotdot", R, read("chain1/../secret.txt"), "refused"),
    Attempt("inside-chain-then-climb", R, read("docs/up/docs/up/../outside/secret.txt"), "refused"),
    # -- hard links to files outside ---------------------------------------------------------
    Attempt("hardlink-read", R, read("hard-secret.txt"), "refused"),
    Attempt("hardlink-stat", S, read("hard-secret.txt"), "refused"),
    Attempt("hardlink-via-symlink", R, read("link-to-hard"), "refused"),
    Attempt("hardlink-in-listing-hides-size", L, read("."), "contained", found=[
        "abs-dotdot", "abs-evil-sibling", "abs-out-dir", "abs-out.txt", "chain1", "chain2",
        "chain3", "dangling-out", "docs", "evil-sibling", "hard-secret.txt", "hello.txt",
        "link-out-dir", "link-out.txt", "link-to-hard", "loop-a", "loop-b", "proc-cwd",
        "proc-fd", "proc-root", "root-alias",
    ]),
    # -- glob patterns -----------------------------------------------------------------------
    Attempt("glob-dotdot", G, {"pattern": "../*"}, "refused"),
    Attempt("glob-dotdot-deep", G, {"pattern": "**/../../outside/*"}, "refused"),
    Attempt("glob-absolute", G, {"pattern": "/etc/*"}, "refused"),
    Attempt("glob-absolute-outside", G, {"pattern": "{tmp}/outside/*"}, "refused"),
    Attempt("glob-percent", G, {"pattern": "%2e%2e/*"}, "refused"),
    Attempt("glob-backslash", G, {"pattern": "..\\*"}, "refused"),
    Attempt("glob-base-dotdot", G, {"pattern": "*", "path": ".."}, "refused"),
    Attempt("glob-base-symlink-out", G, {"pattern": "*", "path": "link-out-dir"}, "refused"),
    Attempt("glob-base-chain", G, {"pattern": "**", "path": "chain1"}, "refused"),
    Attempt("glob-into-symlinked-dir", G, {"pattern": "link-out-dir/*"}, "contained", found=[]),
    Attempt("glob-everything", G, {"pattern": "**"}, "contained", found=[
        "abs-dotdot", "abs-evil-sibling", "abs-out-dir", "abs-out.txt", "chain1", "chain2",
        "chain3", "dangling-out", "docs", "docs/guide.md", "docs/link-back-out", "docs/up",
        "docs/upup", "evil-sibling", "hard-secret.txt", "hello.txt", "link-out-dir",
        "link-out.txt", "link-to-hard", "loop-a", "loop-b", "proc-cwd", "proc-fd",
        "proc-root", "root-alias",
    ]),
    Attempt("glob-secret-name", G, {"pattern": "**/secret.txt"}, "contained", found=[]),
    Attempt("glob-through-chain", G, {"pattern": "chain1/**"}, "contained", found=["chain1"]),
    # -- resource URIs -----------------------------------------------------------------------
    Attempt("uri-dotdot", U, uri("file:///../outside/secret.txt"), "error"),
    Attempt("uri-percent-dotdot", U, uri("file:///%2e%2e/outside/secret.txt"), "error"),
    Attempt("uri-double-encoded", U, uri("file:///%252e%252e/outside/secret.txt"), "error"),
    Attempt("uri-encoded-slash", U, uri("file:///..%2foutside%2fsecret.txt"), "error"),
    Attempt("uri-encoded-backslash", U, uri("file:///..%5coutside%5csecret.txt"), "error"),
    Attempt("uri-overlong-utf8", U, uri("file:///%c0%ae%c0%ae/outside/secret.txt"), "error"),
    Attempt("uri-nul", U, uri("file:///hello.txt%00/../../outside/secret.txt"), "error"),
    Attempt("uri-absolute", U, uri("file:////etc/passwd"), "error"),
    Attempt("uri-absolute-outside", U, uri("file://{tmp}/outside/secret.txt"), "error"),
    Attempt("uri-host", U, uri("file://localhost/etc/passwd"), "error"),
    Attempt("uri-symlink-out", U, uri("file:///link-out.txt"), "error"),
    Attempt("uri-symlink-dir-out", U, uri("file:///link-out-dir/secret.txt"), "error"),
    Attempt("uri-chain", U, uri("file:///chain1/secret.txt"), "error"),
    Attempt("uri-hardlink", U, uri("file:///hard-secret.txt"), "error"),
    Attempt("uri-dotdot-after-subdir", U, uri("file:///docs/%2e%2e/%2e%2e/outside/secret.txt"),
            "error"),
    # -- writes (the server runs writable here) ----------------------------------------------
    Attempt("write-dotdot", W, {"path": "../outside/new.txt", "text": "x"}, "refused"),
    Attempt("write-absolute", W, {"path": "{tmp}/outside/new.txt", "text": "x"}, "refused"),
    Attempt("write-over-symlink-out", W, {"path": "link-out.txt", "text": "x"}, "refused"),
    Attempt("write-into-symlinked-dir", W, {"path": "link-out-dir/new.txt", "text": "x"},
            "refused"),
    Attempt("write-through-dangling", W, {"path": "dangling-out", "text": "x"}, "refused"),
    Attempt("write-through-chain", W, {"path": "chain1/new.txt", "text": "x"}, "refused"),
    Attempt("write-prefix-sibling", W, {"path": "../root-evil/secret.txt", "text": "x"},
            "refused"),
    Attempt("write-percent", W, {"path": "%2e%2e/outside/new.txt", "text": "x"}, "refused"),
    Attempt("write-hardlink-replaces-only-the-link", W, {"path": "hard-secret.txt", "text": "x"},
            "contained"),
]
# fmt: on


@dataclass(frozen=True)
class World:
    """A root with traps in it, and sentinel files beside it."""

    tmp: Path
    root: Path

    def outside(self) -> dict[str, bytes]:
        """Every file outside the root and its content (which the tests check never changes)."""
        return {
            str(path.relative_to(self.tmp)): path.read_bytes()
            for path in sorted(self.tmp.rglob("*"))
            if path.is_file() and not path.is_symlink() and self.root not in path.parents
        }


def build_world(tmp: Path) -> World:
    """Lay out the root and its traps under `tmp`."""
    root = tmp / "root"
    (root / "docs").mkdir(parents=True)
    (tmp / "outside" / "sub").mkdir(parents=True)
    (tmp / "root-evil").mkdir()
    for secret in ("secret.txt", "outside/secret.txt", "outside/sub/deep.txt",
                   f"outside/{UNLISTED}.txt", "root-evil/secret.txt"):  # fmt: skip
        (tmp / secret).write_text(SENTINEL, encoding="utf-8")
    (root / "hello.txt").write_text("hello\n", encoding="utf-8")
    (root / "docs" / "guide.md").write_text("guide\n", encoding="utf-8")
    links = {
        "docs/up": "..",
        "docs/upup": "../..",
        "docs/link-back-out": "../link-out.txt",
        "link-out.txt": "../outside/secret.txt",
        "abs-out.txt": f"{tmp}/outside/secret.txt",
        "link-out-dir": "../outside",
        "abs-out-dir": f"{tmp}/outside",
        "evil-sibling": "../root-evil",
        "abs-evil-sibling": f"{tmp}/root-evil",
        "chain1": "chain2",
        "chain2": "chain3",
        "chain3": "docs/../../outside",
        "abs-dotdot": f"{root}/../outside/secret.txt",
        "dangling-out": "../outside/not-there.txt",
        "proc-root": "/proc/self/root",
        "proc-cwd": "/proc/self/cwd",
        "proc-fd": "/proc/self/fd",
        "loop-a": "loop-b",
        "loop-b": "loop-a",
        "link-to-hard": "hard-secret.txt",
        "root-alias": str(root),
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    os.link(tmp / "outside" / "secret.txt", root / "hard-secret.txt")
    return World(tmp=tmp, root=root)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return build_world(tmp_path)


@dataclass(frozen=True)
class Reply:
    """What came back for an attempt: whether it failed, and all of its text."""

    is_error: bool
    text: str
    structured: dict[str, Any] | None


async def attempt_on(client: Client, tool: str, args: dict[str, Any], prefix: str = "") -> Reply:
    """Make one attempt with `client`; tool names get `prefix` (the gateway's namespace)."""
    if tool == U:
        target = args["uri"].replace("file:", f"{prefix[:-1]}+file:", 1) if prefix else args["uri"]
        try:
            read = await client.read_resource(target)
        except MCPError as exc:
            return Reply(True, exc.error.message + json.dumps(exc.error.data), None)
        texts = [c.text for c in read.contents if isinstance(c, TextResourceContents)]
        return Reply(False, "".join(texts), None)
    result = await client.call_tool(prefix + tool, args)
    text = "".join(b.text for b in result.content if isinstance(b, TextContent))
    structured = result.structured_content
    return Reply(bool(result.is_error), text + json.dumps(structured), structured)


def check_reply(world: World, attempt: Attempt, args: dict[str, Any], reply: Reply) -> None:
    """Assert the attempt got nothing from outside and ended as its `expect` says."""
    assert SENTINEL not in reply.text
    assert UNLISTED not in reply.text
    if str(world.tmp) not in json.dumps(args):
        assert str(world.tmp) not in reply.text, "a reply named a path outside the root"
    assert reply.is_error == (attempt.expect != "contained"), reply.text
    if attempt.found is not None:
        assert reply.structured is not None
        items: list[dict[str, Any]] = reply.structured.get("entries") or reply.structured["matches"]
        assert [item.get("name", item.get("path")) for item in items] == attempt.found


def direct(roots: Roots, tool: str, args: dict[str, Any]) -> object:
    """The same call on the service's `Roots`, where the class of the error shows."""
    if tool == R:
        return roots.read_bytes(args["path"], 1 << 20)
    if tool == L:
        return roots.list_dir(args["path"], 1000)
    if tool == S:
        return roots.status(args["path"])
    if tool == G:
        pattern = compile_glob(args["pattern"])
        return roots.find(
            args.get("path", "."),
            pattern.matches,
            max_depth=pattern.max_depth,
            max_results=1000,
            max_visited=10_000,
        )
    assert tool == W
    return roots.write_bytes(args["path"], args["text"].encode(), overwrite=True)


ERROR_CLASSES: dict[Expect, tuple[type[FsError], ...]] = {
    "refused": (PathRefused,),
    "missing": (PathNotFound,),
    "error": (FsError,),
}


def test_the_corpus_is_large_and_covers_every_class() -> None:
    assert len(CORPUS) >= 50
    assert len({attempt.id for attempt in CORPUS}) == len(CORPUS)
    assert {attempt.tool for attempt in CORPUS} == {R, L, S, G, W, U}


@pytest.mark.parametrize("attempt", CORPUS, ids=[attempt.id for attempt in CORPUS])
async def test_escape_attempt_gets_nothing_from_outside(world: World, attempt: Attempt) -> None:
    before = world.outside()
    args = attempt.bind(world)

    async with Client(build_server(world.root, writable=True)) as client:
        reply = await attempt_on(client, attempt.tool, args)

    check_reply(world, attempt, args, reply)
    assert world.outside() == before
    if attempt.tool == U or attempt.expect == "contained":
        return
    with pytest.raises(ERROR_CLASSES[attempt.expect]) as caught:
        direct(Roots([("root", world.root)]), attempt.tool, args)
    if attempt.expect == "error":
        assert not isinstance(caught.value, (PathRefused, PathNotFound))


PIECES = ["..", ".", "", "docs", "up", "upup", "chain1", "link-out-dir", "abs-out-dir",
          "evil-sibling", "root-alias", "outside", "secret.txt", "hard-secret.txt",
          "link-to-hard", "hello.txt", "proc-root", "etc", "passwd", "sub"]  # fmt: skip


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """One world for all hypothesis examples, which only read."""
    return build_world(tmp_path_factory.mktemp("world"))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
def test_no_path_built_from_the_traps_reads_a_sentinel(
    shared_world: World, parts: list[str]
) -> None:
    roots = Roots([("root", shared_world.root)])
    path = "/".join(parts)
    for operation in (lambda: roots.read_bytes(path, 1 << 20), lambda: roots.list_dir(path, 1000)):
        try:
            outcome = repr(operation())
        except FsError as exc:
            outcome = str(exc)
        assert SENTINEL not in outcome
        assert UNLISTED not in outcome


def test_no_attempt_leaves_a_descriptor_open(world: World) -> None:
    roots = Roots([("root", world.root)])
    attempts = [a for a in CORPUS if a.tool != U and a.tool != W]
    open_before = len(os.listdir("/proc/self/fd"))

    for attempt in attempts * 3:
        with contextlib.suppress(FsError):
            direct(roots, attempt.tool, attempt.bind(world))

    assert len(os.listdir("/proc/self/fd")) == open_before
