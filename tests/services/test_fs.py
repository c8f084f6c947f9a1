"""Contract tests of the fs service, in memory through the SDK client: every tool's schema,
happy paths and error paths. Escapes are in test_fs_escapes.py, races in test_fs_races.py, the
same contract over real processes and through the gateway in test_fs_processes.py."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, cast

import pytest
from inline_snapshot import snapshot
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, TextResourceContents

from micro_mcp.services.fs.config import parse_config
from micro_mcp.services.fs.errors import FsError
from micro_mcp.services.fs.server import build_server

pytestmark = pytest.mark.anyio

GUIDE = "# Guide\nnon-ASCII: é ✓\n"
GUIDE_SIZE = len(GUIDE.encode("utf-8"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with text, binary and nested files, and a symlink that stays inside."""
    root = tmp_path / "root"
    (root / "docs" / "deep").mkdir(parents=True)
    (root / "hello.txt").write_text("hello, world\n", encoding="utf-8")
    (root / "docs" / "guide.md").write_text(GUIDE, encoding="utf-8")
    (root / "docs" / "deep" / "notes.md").write_text("deep\n", encoding="utf-8")
    (root / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    (root / "link-inside.txt").symlink_to(root / "docs" / "guide.md")
    (root / "docs-link").symlink_to("docs", target_is_directory=True)
    return root


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(root: Path, tool: str, args: dict[str, Any], **config: Any) -> CallToolResult:
    """Call one tool on a fresh server confined to `root`."""
    async with Client(build_server(root, **config)) as client:
        return await client.call_tool(tool, args)


async def ok(root: Path, tool: str, args: dict[str, Any], **config: Any) -> dict[str, Any]:
    """Call one tool that must succeed; return its structured content."""
    result = await call(root, tool, args, **config)
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def error(root: Path, tool: str, args: dict[str, Any], **config: Any) -> str:
    """Call one tool that must fail with an `isError` result; return its message."""
    result = await call(root, tool, args, **config)
    assert result.is_error, result
    return text_of(result)


async def test_read_only_server_offers_four_tools_and_writable_adds_write(root: Path) -> None:
    async with Client(build_server(root)) as client:
        read_only = {tool.name for tool in (await client.list_tools()).tools}
    async with Client(build_server(root, writable=True)) as client:
        writable = {tool.name for tool in (await client.list_tools()).tools}

    assert read_only == {"listDir", "readFileText", "stat", "glob"}
    assert writable == read_only | {"writeFileText"}


def shape(schema: Any) -> Any:
    """A JSON Schema without its prose (descriptions, titles): what a validator checks."""
    if isinstance(schema, dict):
        fields = cast(dict[str, Any], schema)
        return {k: shape(v) for k, v in fields.items() if k not in ("description", "title")}
    if isinstance(schema, list):
        return [shape(item) for item in cast(list[Any], schema)]
    return schema


async def test_every_tool_declares_exact_input_and_output_schemas(root: Path) -> None:
    async with Client(build_server(root, writable=True, max_read_bytes=4096)) as client:
        tools = (await client.list_tools()).tools
    schemas = {
        tool.name: {"input": shape(tool.input_schema), "output": shape(tool.output_schema)}
        for tool in tools
    }

    for tool in tools:
        assert tool.description, tool.name
        assert tool.output_schema is not None, tool.name
        assert tool.output_schema["additionalProperties"] is False, tool.name
    assert schemas == snapshot(
        {
            "listDir": {
                "input": {
                    "type": "object",
                    "properties": {"path": {"default": ".", "type": "string"}},
                },
                "output": {
                    "$defs": {
                        "DirEntry": {
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "type": {
                                    "enum": ["file", "dir", "symlink", "other"],
                                    "type": "string",
                                },
                                "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                            },
                            "required": ["name", "type", "size"],
                            "type": "object",
                        }
                    },
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "entries": {"items": {"$ref": "#/$defs/DirEntry"}, "type": "array"},
                        "truncated": {"type": "boolean"},
                    },
                    "required": ["path", "entries", "truncated"],
                    "type": "object",
                },
            },
            "readFileText": {
                "input": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "maxBytes": {
                            "anyOf": [{"minimum": 1, "type": "integer"}, {"type": "null"}],
                            "default": None,
                        },
                    },
                    "required": ["path"],
                },
                "output": {
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "text": {"type": "string"},
                        "size": {"type": "integer"},
                    },
                    "required": ["path", "text", "size"],
                    "type": "object",
                },
            },
            "stat": {
                "input": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
                "output": {
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "type": {"enum": ["file", "dir", "other"], "type": "string"},
                        "size": {"type": "integer"},
                        "modified": {"type": "string"},
                        "mode": {"type": "string"},
                    },
                    "required": ["path", "type", "size", "modified", "mode"],
                    "type": "object",
                },
            },
            "glob": {
                "input": {
                    "type": "object",
                    "properties": {
                        "pattern": {"type": "string"},
                        "path": {"default": ".", "type": "string"},
                        "maxResults": {
                            "default": 200,
                            "maximum": 1000,
                            "minimum": 1,
                            "type": "integer",
                        },
                    },
                    "required": ["pattern"],
                },
                "output": {
                    "$defs": {
                        "GlobMatch": {
                            "additionalProperties": False,
                            "properties": {
                                "path": {"type": "string"},
                                "type": {
                                    "enum": ["file", "dir", "symlink", "other"],
                                    "type": "string",
                                },
                                "size": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                            },
                            "required": ["path", "type", "size"],
                            "type": "object",
                        }
                    },
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "pattern": {"type": "string"},
                        "matches": {"items": {"$ref": "#/$defs/GlobMatch"}, "type": "array"},
                        "truncated": {"type": "boolean"},
                    },
                    "required": ["path", "pattern", "matches", "truncated"],
                    "type": "object",
                },
            },
            "writeFileText": {
                "input": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "text": {"type": "string"},
                        "overwrite": {"default": True, "type": "boolean"},
                    },
                    "required": ["path", "text"],
                },
                "output": {
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string"},
                        "size": {"type": "integer"},
                        "created": {"type": "boolean"},
                    },
                    "required": ["path", "size", "created"],
                    "type": "object",
                },
            },
        }
    )


async def test_tools_carry_read_only_or_destructive_hints(root: Path) -> None:
    async with Client(build_server(root, writable=True)) as client:
        tools = {tool.name: tool.annotations for tool in (await client.list_tools()).tools}

    for name in ("listDir", "readFileText", "stat", "glob"):
        hints = tools[name]
        assert hints is not None and hints.read_only_hint is True, name
    write = tools["writeFileText"]
    assert write is not None and write.destructive_hint is True and write.read_only_hint is False


# -- listDir -----------------------------------------------------------------------------------


async def test_list_dir_of_root_gives_sorted_typed_entries(root: Path) -> None:
    listing = await ok(root, "listDir", {})

    assert listing["path"] == "."
    assert listing["truncated"] is False
    assert [(e["name"], e["type"], e["size"]) for e in listing["entries"]] == [
        ("blob.bin", "file", 12),
        ("docs", "dir", None),
        ("docs-link", "symlink", None),
        ("hello.txt", "file", 13),
        ("latin1.txt", "file", 4),
        ("link-inside.txt", "symlink", None),
    ]


async def test_list_dir_of_subdirectory_and_through_an_inside_symlink(root: Path) -> None:
    direct = await ok(root, "listDir", {"path": "docs/"})
    linked = await ok(root, "listDir", {"path": "docs-link"})

    assert direct == {
        "path": "docs",
        "entries": [
            {"name": "deep", "type": "dir", "size": None},
            {"name": "guide.md", "type": "file", "size": GUIDE_SIZE},
        ],
        "truncated": False,
    }
    assert linked == direct


async def test_list_dir_cuts_at_the_entry_limit_and_says_so(root: Path) -> None:
    many = root / "many"
    many.mkdir()
    for index in range(1005):
        (many / f"f{index:04}").touch()

    listing = await ok(root, "listDir", {"path": "many"})

    assert listing["truncated"] is True
    assert len(listing["entries"]) == 1000
    assert listing["entries"][-1]["name"] == "f0999"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("hello.txt", "'hello.txt' is not a directory"),
        ("nope", "no such file or directory: 'nope'"),
        ("hello.txt/x", "'hello.txt/x': 'hello.txt' is not a directory"),
        ("..", "'..' leads outside the root"),
    ],
)
async def test_list_dir_errors_say_what_is_wrong(root: Path, path: str, message: str) -> None:
    assert message in await error(root, "listDir", {"path": path})


# -- readFileText ------------------------------------------------------------------------------


async def test_read_file_text_returns_text_content_and_structured_content(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "docs/guide.md"})

    assert not result.is_error
    assert text_of(result) == GUIDE
    assert result.structured_content == {"path": "docs/guide.md", "text": GUIDE, "size": GUIDE_SIZE}


@pytest.mark.parametrize("path", ["link-inside.txt", "docs-link/guide.md", "docs/deep/../guide.md"])
async def test_read_resolves_symlinks_and_dot_dot_that_stay_inside(root: Path, path: str) -> None:
    read = await ok(root, "readFileText", {"path": path})

    assert read["path"] == "docs/guide.md"
    assert read["text"] == GUIDE


@pytest.mark.parametrize("path", ["blob.bin", "latin1.txt"])
async def test_binary_or_non_utf8_file_is_refused_with_a_clear_error(root: Path, path: str) -> None:
    message = await error(root, "readFileText", {"path": path})

    assert f"{path!r} is not UTF-8 text (binary content)" in message


async def test_file_over_the_server_limit_is_refused(root: Path) -> None:
    message = await error(root, "readFileText", {"path": "hello.txt"}, max_read_bytes=12)

    assert "'hello.txt' is 13 bytes, over the read limit of 12 bytes" in message


async def test_max_bytes_argument_lowers_the_limit_but_never_raises_it(root: Path) -> None:
    lowered = await error(root, "readFileText", {"path": "hello.txt", "maxBytes": 5})
    raised = await error(
        root, "readFileText", {"path": "hello.txt", "maxBytes": 10_000}, max_read_bytes=12
    )
    exact = await ok(root, "readFileText", {"path": "hello.txt", "maxBytes": 13})

    assert "limit of 5 bytes" in lowered
    assert "limit of 12 bytes" in raised
    assert exact["size"] == 13


@pytest.mark.parametrize(
    ("args", "field"),
    [({"path": "hello.txt", "maxBytes": 0}, "maxBytes"), ({}, "path"), ({"path": 3}, "path")],
)
async def test_arguments_outside_the_input_schema_are_errors(
    root: Path, args: dict[str, Any], field: str
) -> None:
    assert field in await error(root, "readFileText", args)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("docs/nope.md", "no such file or directory: 'docs/nope.md'"),
        ("docs", "'docs' is a directory; use listDir"),
        ("hello.txt\0.png", "path contains a NUL byte"),
        ("/etc/hostname", "absolute path '/etc/hostname' refused"),
    ],
)
async def test_read_errors_say_what_is_wrong(root: Path, path: str, message: str) -> None:
    assert message in await error(root, "readFileText", {"path": path})


async def test_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")

    assert "'pipe' is not a regular file" in await error(root, "readFileText", {"path": "pipe"})


async def test_hard_linked_file_is_refused_even_inside_the_root(root: Path) -> None:
    os.link(root / "hello.txt", root / "hello-again.txt")

    message = await error(root, "readFileText", {"path": "hello-again.txt"})
    listing = await ok(root, "listDir", {})

    assert "has 2 hard links" in message
    sizes = {e["name"]: e["size"] for e in listing["entries"]}
    assert sizes["hello-again.txt"] is None


# -- stat --------------------------------------------------------------------------------------


async def test_stat_describes_files_and_directories(root: Path) -> None:
    os.chmod(root / "hello.txt", 0o640)
    os.utime(root / "hello.txt", (0, 1_700_000_000))

    file = await ok(root, "stat", {"path": "hello.txt"})
    directory = await ok(root, "stat", {"path": "docs"})

    assert file == {
        "path": "hello.txt",
        "type": "file",
        "size": 13,
        "modified": "2023-11-14T22:13:20+00:00",
        "mode": "0640",
    }
    assert directory["type"] == "dir"
    assert directory["mode"] == f"{stat.S_IMODE((root / 'docs').stat().st_mode):04o}"


async def test_stat_resolves_inside_symlinks_and_sees_special_files(root: Path) -> None:
    os.mkfifo(root / "pipe")

    linked = await ok(root, "stat", {"path": "link-inside.txt"})
    pipe = await ok(root, "stat", {"path": "pipe"})
    top = await ok(root, "stat", {"path": "."})

    assert (linked["path"], linked["type"], linked["size"]) == ("docs/guide.md", "file", GUIDE_SIZE)
    assert pipe["type"] == "other"
    assert (top["path"], top["type"]) == (".", "dir")


async def test_stat_of_a_missing_path_is_an_error(root: Path) -> None:
    assert "no such file or directory: 'nope'" in await error(root, "stat", {"path": "nope"})


# -- glob --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "found"),
    [
        ("*.txt", ".", ["hello.txt", "latin1.txt", "link-inside.txt"]),
        ("**/*.md", ".", ["docs/deep/notes.md", "docs/guide.md"]),
        ("**", "docs", ["docs/deep", "docs/deep/notes.md", "docs/guide.md"]),
        ("*/guide.md", ".", ["docs/guide.md"]),
        ("d?cs", ".", ["docs"]),
        ("[bl]*", ".", ["blob.bin", "latin1.txt", "link-inside.txt"]),
        ("**/notes.md", "docs", ["docs/deep/notes.md"]),
        ("*", "docs-link", ["docs/deep", "docs/guide.md"]),
        ("nothing*", ".", []),
    ],
)
async def test_glob_matches_by_component_and_never_enters_symlinks(
    root: Path, pattern: str, path: str, found: list[str]
) -> None:
    result = await ok(root, "glob", {"pattern": pattern, "path": path})

    assert [match["path"] for match in result["matches"]] == found
    assert result["truncated"] is False
    assert result["pattern"] == pattern


async def test_glob_reports_types_and_sizes(root: Path) -> None:
    result = await ok(root, "glob", {"pattern": "*"})

    kinds = {m["path"]: (m["type"], m["size"]) for m in result["matches"]}
    assert kinds["docs"] == ("dir", None)
    assert kinds["docs-link"] == ("symlink", None)
    assert kinds["hello.txt"] == ("file", 13)


async def test_glob_stops_at_max_results_and_says_so(root: Path) -> None:
    result = await ok(root, "glob", {"pattern": "**", "maxResults": 2})

    assert [m["path"] for m in result["matches"]] == ["blob.bin", "docs"]
    assert result["truncated"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"pattern": "../*"}, "'..' in pattern '../*' refused"),
        ({"pattern": "/etc/*"}, "absolute path '/etc/*' refused"),
        ({"pattern": ""}, "empty pattern"),
        ({"pattern": "*", "path": "hello.txt"}, "'hello.txt' is not a directory"),
        ({"pattern": "*", "path": "nope"}, "no such file or directory: 'nope'"),
        ({"pattern": "*", "maxResults": 0}, "maxResults"),
        ({"pattern": "*", "maxResults": 1001}, "maxResults"),
    ],
)
async def test_glob_errors_say_what_is_wrong(
    root: Path, args: dict[str, Any], message: str
) -> None:
    assert message in await error(root, "glob", args)


# -- writeFileText -----------------------------------------------------------------------------


async def test_write_creates_then_replaces_a_file(root: Path) -> None:
    created = await ok(root, "writeFileText", {"path": "docs/new.md", "text": "é\n"}, writable=True)
    replaced = await ok(
        root, "writeFileText", {"path": "docs/new.md", "text": "second"}, writable=True
    )

    assert created == {"path": "docs/new.md", "size": 3, "created": True}
    assert replaced == {"path": "docs/new.md", "size": 6, "created": False}
    assert (root / "docs" / "new.md").read_text(encoding="utf-8") == "second"
    assert sorted(os.listdir(root / "docs")) == ["deep", "guide.md", "new.md"]


async def test_write_keeps_the_mode_of_the_file_it_replaces(root: Path) -> None:
    os.chmod(root / "hello.txt", 0o600)

    await ok(root, "writeFileText", {"path": "hello.txt", "text": "new"}, writable=True)

    assert stat.S_IMODE((root / "hello.txt").stat().st_mode) == 0o600


async def test_write_through_an_inside_symlink_writes_its_target(root: Path) -> None:
    written = await ok(
        root, "writeFileText", {"path": "link-inside.txt", "text": "via link"}, writable=True
    )

    assert written["path"] == "docs/guide.md"
    assert (root / "link-inside.txt").is_symlink()
    assert (root / "docs" / "guide.md").read_text(encoding="utf-8") == "via link"


async def test_write_replaces_a_hard_link_without_touching_its_other_name(root: Path) -> None:
    os.link(root / "hello.txt", root / "twin.txt")

    await ok(root, "writeFileText", {"path": "twin.txt", "text": "mine"}, writable=True)

    assert (root / "hello.txt").read_text(encoding="utf-8") == "hello, world\n"
    assert (root / "twin.txt").read_text(encoding="utf-8") == "mine"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"path": "hello.txt", "text": "x", "overwrite": False}, "'hello.txt' exists"),
        ({"path": "docs", "text": "x"}, "'docs' is a directory"),
        ({"path": "missing/new.txt", "text": "x"}, "no such file or directory"),
        ({"path": "new.txt/", "text": "x"}, "'new.txt/' is not a directory"),
        ({"path": "big.txt", "text": "x" * 101}, "101 bytes, over the write limit of 100"),
        ({"path": "odd.txt", "text": "\udc80"}, "lone surrogates"),
        ({"path": "../out.txt", "text": "x"}, "'../out.txt' leads outside the root"),
    ],
)
async def test_write_errors_say_what_is_wrong_and_change_nothing(
    root: Path, args: dict[str, Any], message: str
) -> None:
    before = sorted(str(p.relative_to(root.parent)) for p in root.parent.rglob("*"))

    assert message in await error(root, "writeFileText", args, writable=True, max_read_bytes=100)

    assert sorted(str(p.relative_to(root.parent)) for p in root.parent.rglob("*")) == before
    assert (root / "hello.txt").read_text(encoding="utf-8") == "hello, world\n"


async def test_write_is_unknown_unless_the_server_is_writable(root: Path) -> None:
    message = await error(root, "writeFileText", {"path": "new.txt", "text": "x"})

    assert "writeFileText" in message
    assert not (root / "new.txt").exists()


# -- resources ---------------------------------------------------------------------------------


async def test_files_are_readable_as_resources_relative_to_root(root: Path) -> None:
    async with Client(build_server(root)) as client:
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource("file:///docs/guide.md")
        spaced = root / "with space.txt"
        spaced.write_text("spaced", encoding="utf-8")
        encoded = await client.read_resource("file:///with%20space.txt")

    assert [t.uri_template for t in templates] == ["file:///{+path}"]
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.text == GUIDE
    [spaced_contents] = encoded.contents
    assert isinstance(spaced_contents, TextResourceContents)
    assert spaced_contents.text == "spaced"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("file:///blob.bin", "not UTF-8 text"),
        ("file:///nope", "no such file or directory"),
        ("file:///docs", "is a directory"),
    ],
)
async def test_resource_errors_say_what_is_wrong(root: Path, uri: str, message: str) -> None:
    async with Client(build_server(root)) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(uri)

    assert caught.value.error.code == INVALID_PARAMS
    assert message in caught.value.error.message


# -- several roots -----------------------------------------------------------------------------


@pytest.fixture
def two_roots(tmp_path: Path, root: Path) -> list[tuple[str, Path]]:
    """The root fixture as `main`, and a second root `extra` with one file."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "more.txt").write_text("more\n", encoding="utf-8")
    return [("main", root), ("extra", extra)]


async def test_several_roots_are_listed_at_the_top_and_addressed_by_name(
    two_roots: list[tuple[str, Path]],
) -> None:
    async with Client(build_server(two_roots)) as client:
        top = await client.call_tool("listDir", {})
        read = await client.call_tool("readFileText", {"path": "extra/more.txt"})
        linked = await client.call_tool("readFileText", {"path": "main/link-inside.txt"})
        found = await client.call_tool("glob", {"pattern": "*/*.txt"})
        resource = await client.read_resource("file:///main/hello.txt")

    assert top.structured_content is not None
    assert [e["name"] for e in top.structured_content["entries"]] == ["main", "extra"]
    assert read.structured_content is not None and read.structured_content["text"] == "more\n"
    assert linked.structured_content is not None
    assert linked.structured_content["path"] == "main/docs/guide.md"
    assert found.structured_content is not None
    assert [m["path"] for m in found.structured_content["matches"]] == [
        "main/hello.txt",
        "main/latin1.txt",
        "main/link-inside.txt",
        "extra/more.txt",
    ]
    [contents] = resource.contents
    assert isinstance(contents, TextResourceContents) and contents.text == "hello, world\n"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("main/../extra/more.txt", "'main/../extra/more.txt' leads outside the root"),
        ("../main/hello.txt", "leads outside the roots"),
        ("other/x.txt", "no root named 'other': paths start with one of main, extra"),
        (".", "is the list of roots"),
    ],
)
async def test_several_roots_never_cross_and_name_the_roots_in_errors(
    two_roots: list[tuple[str, Path]], path: str, message: str
) -> None:
    async with Client(build_server(two_roots)) as client:
        result = await client.call_tool("readFileText", {"path": path})

    assert result.is_error
    assert message in text_of(result)


# -- start-up ----------------------------------------------------------------------------------


def test_missing_root_fails_at_build_time(tmp_path: Path) -> None:
    with pytest.raises(FsError, match="not accessible"):
        build_server(tmp_path / "absent")


def test_duplicate_root_names_fail_at_build_time(tmp_path: Path) -> None:
    (tmp_path / "a" / "x").mkdir(parents=True)
    (tmp_path / "b" / "x").mkdir(parents=True)

    with pytest.raises(FsError, match="two roots are named 'x'"):
        build_server([("x", tmp_path / "a" / "x"), ("x", tmp_path / "b" / "x")])


def test_roots_come_from_flags_then_env_then_cwd() -> None:
    assert parse_config(["--root", "/a"], {"FS_ROOT": "/b"}).roots == [("a", Path("/a"))]
    assert parse_config([], {"FS_ROOT": f"/b{os.pathsep}/c"}).roots == [
        ("b", Path("/b")),
        ("c", Path("/c")),
    ]
    assert parse_config([], {}).roots == [(Path.cwd().name, Path("."))]
    named = parse_config(["--root", "docs=/srv/d", "--root", "/srv/x=y"], {})
    assert named.roots == [("docs", Path("/srv/d")), ("x=y", Path("/srv/x=y"))]


def test_writable_comes_from_the_flag_or_env_and_is_off_by_default() -> None:
    assert parse_config([], {}).writable is False
    assert parse_config(["--writable"], {}).writable is True
    assert parse_config([], {"FS_WRITABLE": "1"}).writable is True
    assert parse_config([], {"FS_WRITABLE": "0"}).writable is False


def test_transport_flags() -> None:
    config = parse_config(["--http", "--host", "0.0.0.0", "--port", "9000"], {})

    assert (config.http, config.host, config.port) == (True, "0.0.0.0", 9000)
    assert parse_config([], {}).http is False
