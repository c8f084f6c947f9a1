"""Contract tests of the fs service, in memory through the SDK client."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextContent, TextResourceContents

from micro_mcp.services.fs.config import parse_config
from micro_mcp.services.fs.sandbox import FsError, Sandbox
from micro_mcp.services.fs.server import build_server

pytestmark = pytest.mark.anyio

GUIDE = "# Guide\nnon-ASCII: é ✓\n"
GUIDE_SIZE = len(GUIDE.encode("utf-8"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with text, binary and nested files, plus secrets beside it that must stay out."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "hello.txt").write_text("hello, world\n", encoding="utf-8")
    (root / "docs" / "guide.md").write_text(GUIDE, encoding="utf-8")
    (root / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    (root / "latin1.txt").write_bytes("café".encode("latin-1"))
    (root / "link-inside.txt").symlink_to(root / "docs" / "guide.md")
    evil = tmp_path / "root-evil"
    evil.mkdir()
    (evil / "secret.txt").write_text("sibling secret", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("parent secret", encoding="utf-8")
    (root / "link-out.txt").symlink_to(tmp_path / "secret.txt")
    (root / "link-out-dir").symlink_to(evil, target_is_directory=True)
    return root


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def call(root: Path, tool: str, args: dict[str, Any], **config: Any) -> CallToolResult:
    """Call one tool on a fresh server confined to `root`."""
    async with Client(build_server(root, **config)) as client:
        return await client.call_tool(tool, args)


async def test_list_tools_declares_names_and_schemas(root: Path) -> None:
    async with Client(build_server(root)) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {"listDir", "readFileText"}
    list_dir, read = tools["listDir"], tools["readFileText"]
    assert set(list_dir.input_schema["properties"]) == {"path"}
    assert list_dir.input_schema.get("required", []) == []
    assert set(read.input_schema["properties"]) == {"path", "maxBytes"}
    assert read.input_schema["required"] == ["path"]
    assert list_dir.output_schema is not None
    assert set(list_dir.output_schema["properties"]) == {"path", "entries", "truncated"}
    assert read.output_schema is not None
    assert set(read.output_schema["properties"]) == {"path", "text", "size"}
    assert list_dir.annotations is not None
    assert list_dir.annotations.read_only_hint is True


async def test_list_dir_of_root_gives_sorted_typed_entries(root: Path) -> None:
    result = await call(root, "listDir", {})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["path"] == "."
    assert result.structured_content["truncated"] is False
    entries = {e["name"]: (e["type"], e["size"]) for e in result.structured_content["entries"]}
    assert entries == {
        "blob.bin": ("file", 12),
        "docs": ("dir", None),
        "hello.txt": ("file", 13),
        "latin1.txt": ("file", 4),
        "link-inside.txt": ("symlink", None),
        "link-out-dir": ("symlink", None),
        "link-out.txt": ("symlink", None),
    }
    names = [e["name"] for e in result.structured_content["entries"]]
    assert names == sorted(names)


async def test_list_dir_of_subdirectory(root: Path) -> None:
    result = await call(root, "listDir", {"path": "docs/"})

    assert result.structured_content == {
        "path": "docs",
        "entries": [{"name": "guide.md", "type": "file", "size": GUIDE_SIZE}],
        "truncated": False,
    }


async def test_read_file_text_returns_text_content_and_structured_content(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "docs/guide.md"})

    assert not result.is_error
    assert text_of(result) == GUIDE
    assert result.structured_content == {"path": "docs/guide.md", "text": GUIDE, "size": GUIDE_SIZE}


async def test_read_follows_symlink_that_stays_inside_root(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "link-inside.txt"})

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["path"] == "docs/guide.md"


async def test_dot_dot_inside_root_is_allowed(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "docs/../hello.txt"})

    assert text_of(result) == "hello, world\n"


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "../root-evil/secret.txt",
        "docs/../../secret.txt",
        "../missing-outside.txt",
        "link-out.txt",
        "link-out-dir/secret.txt",
    ],
)
async def test_read_outside_root_is_refused_without_naming_the_target(
    root: Path, path: str
) -> None:
    result = await call(root, "readFileText", {"path": path})

    assert result.is_error
    assert "outside the allowed root" in text_of(result)
    assert str(root.parent) not in text_of(result)


@pytest.mark.parametrize("path", ["..", "../root-evil", "link-out-dir"])
async def test_list_dir_outside_root_is_refused(root: Path, path: str) -> None:
    result = await call(root, "listDir", {"path": path})

    assert result.is_error
    assert "outside the allowed root" in text_of(result)
    assert "secret.txt" not in text_of(result)


async def test_absolute_path_is_refused_even_when_inside_root(root: Path) -> None:
    outside = await call(root, "readFileText", {"path": str(root.parent / "secret.txt")})
    inside = await call(root, "readFileText", {"path": str(root / "hello.txt")})

    for result in (outside, inside):
        assert result.is_error
        assert "absolute path" in text_of(result)


async def test_root_is_compared_by_components_not_string_prefix(tmp_path: Path, root: Path) -> None:
    # The sibling's path starts with the root's path string: only a component check refuses it.
    assert str(tmp_path / "root-evil").startswith(str(root))

    result = await call(root, "listDir", {"path": "../root-evil"})

    assert result.is_error
    assert "outside the allowed root" in text_of(result)


async def test_root_given_through_a_symlink_still_confines(tmp_path: Path, root: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)

    inside = await call(alias, "readFileText", {"path": "hello.txt"})
    outside = await call(alias, "readFileText", {"path": "../secret.txt"})

    assert text_of(inside) == "hello, world\n"
    assert outside.is_error


class RacedSandbox(Sandbox):
    """Answers with a path checked earlier, as if a swap won the race after the check."""

    def __init__(self, root: Path, checked: PurePosixPath) -> None:
        super().__init__(root)
        self.checked = checked

    def locate(self, requested: str) -> PurePosixPath:
        return self.checked


@pytest.mark.parametrize(("swapped", "target"), [("docs", "."), ("docs/guide.md", "guide.md")])
def test_path_swapped_for_symlink_after_the_check_is_not_followed(
    root: Path, swapped: str, target: str
) -> None:
    checked = Sandbox(root).locate("docs/guide.md")
    evil = root.parent / "root-evil"
    (evil / "guide.md").write_text("stolen", encoding="utf-8")
    (root / swapped).rename(root / f"{swapped}-old")
    (root / swapped).symlink_to((evil / target).resolve())
    assert (root / "docs" / "guide.md").read_text(encoding="utf-8") == "stolen"

    with pytest.raises(FsError, match="cannot open"):
        RacedSandbox(root, checked).read_text("docs/guide.md", 1000)


async def test_nul_byte_in_path_is_refused(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "hello.txt\0.png"})

    assert result.is_error
    assert "NUL byte" in text_of(result)


@pytest.mark.parametrize("path", ["blob.bin", "latin1.txt"])
async def test_binary_or_non_utf8_file_is_refused(root: Path, path: str) -> None:
    result = await call(root, "readFileText", {"path": path})

    assert result.is_error
    assert "not UTF-8 text" in text_of(result)


async def test_file_over_the_server_limit_is_refused(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "hello.txt"}, max_read_bytes=12)

    assert result.is_error
    assert "13 bytes, over the read limit of 12 bytes" in text_of(result)


async def test_max_bytes_argument_lowers_the_limit_but_never_raises_it(root: Path) -> None:
    lowered = await call(root, "readFileText", {"path": "hello.txt", "maxBytes": 5})
    raised = await call(
        root, "readFileText", {"path": "hello.txt", "maxBytes": 10_000}, max_read_bytes=12
    )
    exact = await call(root, "readFileText", {"path": "hello.txt", "maxBytes": 13})

    assert lowered.is_error
    assert "limit of 5 bytes" in text_of(lowered)
    assert raised.is_error
    assert "limit of 12 bytes" in text_of(raised)
    assert not exact.is_error


async def test_max_bytes_below_one_is_rejected_by_the_schema(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "hello.txt", "maxBytes": 0})

    assert result.is_error


async def test_missing_file_is_reported_as_not_found(root: Path) -> None:
    result = await call(root, "readFileText", {"path": "docs/nope.md"})

    assert result.is_error
    assert "no such file or directory: 'docs/nope.md'" in text_of(result)


async def test_wrong_kind_of_path_gives_a_clear_error(root: Path) -> None:
    list_file = await call(root, "listDir", {"path": "hello.txt"})
    read_dir = await call(root, "readFileText", {"path": "docs"})

    assert list_file.is_error
    assert "not a directory" in text_of(list_file)
    assert read_dir.is_error
    assert "is a directory" in text_of(read_dir)


async def test_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")

    result = await call(root, "readFileText", {"path": "pipe"})

    assert result.is_error
    assert "not a regular file" in text_of(result)


async def test_files_are_readable_as_resources_relative_to_root(root: Path) -> None:
    async with Client(build_server(root)) as client:
        templates = (await client.list_resource_templates()).resource_templates
        read = await client.read_resource("file:///docs/guide.md")

    assert [t.uri_template for t in templates] == ["file:///{+path}"]
    [contents] = read.contents
    assert isinstance(contents, TextResourceContents)
    assert contents.text == GUIDE


@pytest.mark.parametrize(
    "uri", ["file:///link-out.txt", "file:///../secret.txt", "file:///blob.bin", "file:///nope"]
)
async def test_resource_reads_obey_the_same_rules(root: Path, uri: str) -> None:
    async with Client(build_server(root)) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource(uri)

    assert str(root.parent) not in caught.value.error.message


def test_missing_root_fails_at_build_time(tmp_path: Path) -> None:
    with pytest.raises(FsError, match="not accessible"):
        build_server(tmp_path / "absent")


def test_root_comes_from_flag_then_env_then_cwd() -> None:
    assert parse_config(["--root", "/a"], {"FS_ROOT": "/b"}).root == Path("/a")
    assert parse_config([], {"FS_ROOT": "/b"}).root == Path("/b")
    assert parse_config([], {}).root == Path(".")


def test_transport_flags() -> None:
    config = parse_config(["--http", "--host", "0.0.0.0", "--port", "9000"], {})

    assert (config.http, config.host, config.port) == (True, "0.0.0.0", 9000)
    assert parse_config([], {}).http is False
