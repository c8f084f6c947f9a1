"""The `fs` MCP server: listing, reading, finding and (optionally) writing files under its roots.

Tools: `listDir`, `readFileText`, `stat`, `glob`, and `writeFileText` only when the server is
started writable. Resource template `file:///{+path}`: the path after `file:///` is relative
to the root, not to `/`, so `file:///docs/readme.md` is `<root>/docs/readme.md`. Every access
goes through `Roots`, and every refusal is an `isError` result saying why.
"""

# No `from __future__ import annotations` here: the SDK evaluates the tools' annotations,
# and they use build_server's local limits in their descriptions.
import stat as stat_bits
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError, ToolError
from mcp.types import INVALID_PARAMS, CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from micro_mcp.services.fs.errors import FsError, PathNotFound
from micro_mcp.services.fs.pattern import compile_glob
from micro_mcp.services.fs.results import (
    MAX_ENTRIES,
    MAX_MATCHES,
    DirEntry,
    DirListing,
    FileStatus,
    FileText,
    GlobMatch,
    GlobResult,
    Written,
)
from micro_mcp.services.fs.roots import Roots

DEFAULT_MAX_READ_BYTES = 1024 * 1024
"""Largest file, in bytes, that a read returns (or a write takes) unless configured otherwise."""

MAX_VISITED = 100_000
"""Most entries one glob looks at before it stops and reports `truncated`."""

RootSpec = Path | str | Sequence[tuple[str, Path | str]]
"""One root directory, or several as (name, directory) pairs."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
_WRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


def build_server(
    root: RootSpec = ".", *, max_read_bytes: int = DEFAULT_MAX_READ_BYTES, writable: bool = False
) -> MCPServer:
    """Build the fs server confined to `root` (or several named roots).

    Raises:
        FsError: A root does not exist or is not a directory, or root names clash.
    """
    roots = Roots(_named(root))
    mcp = MCPServer("fs", instructions=_instructions(roots, writable))

    # Sync tools: the SDK runs them on a worker thread, which keeps blocking file I/O off
    # the event loop.
    @mcp.tool(name="listDir", annotations=_READ_ONLY)
    def list_dir(
        path: Annotated[str, Field(description="Directory relative to the root.")] = ".",
    ) -> DirListing:
        """List the entries of a directory under the root: name, type and size."""
        with _as_tool_error():
            listing = roots.list_dir(path, MAX_ENTRIES)
        return DirListing(
            path=listing.path,
            entries=[DirEntry(name=e.name, type=e.type, size=e.size) for e in listing.entries],
            truncated=listing.truncated,
        )

    @mcp.tool(name="readFileText", annotations=_READ_ONLY)
    def read_file_text(
        path: Annotated[str, Field(description="File path relative to the root.")],
        # camelCase because this is the wire name: the SDK 2.3.0 passes pydantic aliases
        # through to the function as keyword names, so an alias cannot bridge the two.
        maxBytes: Annotated[
            int | None,
            Field(ge=1, description=f"Refuse files larger than this; at most {max_read_bytes}."),
        ] = None,
    ) -> Annotated[CallToolResult, FileText]:
        """Read a UTF-8 text file under the root; binary and oversized files are refused."""
        limit = max_read_bytes if maxBytes is None else min(maxBytes, max_read_bytes)
        with _as_tool_error():
            found, data = roots.read_bytes(path, limit)
            text = decode_text(path, data)
        # The text goes out as plain content too, so a model reads it without JSON escaping.
        result = FileText(path=found, text=text, size=len(data))
        return CallToolResult(
            content=[TextContent(type="text", text=text)],
            structured_content=result.model_dump(mode="json"),
        )

    @mcp.tool(name="stat", annotations=_READ_ONLY)
    def stat(
        path: Annotated[str, Field(description="File or directory relative to the root.")],
    ) -> FileStatus:
        """Describe a file or directory under the root: type, size, modification time, mode."""
        with _as_tool_error():
            found, status = roots.status(path)
        return FileStatus(
            path=found,
            type=_kind(status.st_mode),
            size=status.st_size,
            modified=datetime.fromtimestamp(status.st_mtime, UTC).isoformat(timespec="seconds"),
            mode=f"{stat_bits.S_IMODE(status.st_mode):04o}",
        )

    @mcp.tool(name="glob", annotations=_READ_ONLY)
    def glob(
        pattern: Annotated[
            str,
            Field(description="Pattern relative to `path`: * ? [abc] within a name, ** across."),
        ],
        path: Annotated[str, Field(description="Directory to search, relative to the root.")] = ".",
        maxResults: Annotated[
            int, Field(ge=1, le=MAX_MATCHES, description="Most matches to return.")
        ] = 200,
    ) -> GlobResult:
        """Find entries under a directory whose relative paths match a glob pattern."""
        with _as_tool_error():
            compiled = compile_glob(pattern)
            found, matches, truncated = roots.find(
                path,
                compiled.matches,
                max_depth=compiled.max_depth,
                max_results=maxResults,
                max_visited=MAX_VISITED,
            )
        below = "" if found == "." else f"{found}/"
        return GlobResult(
            path=found,
            pattern=pattern,
            matches=[
                GlobMatch(path=below + "/".join(m.parts), type=m.type, size=m.size) for m in matches
            ],
            truncated=truncated,
        )

    if writable:

        @mcp.tool(name="writeFileText", annotations=_WRITES)
        def write_file_text(
            path: Annotated[str, Field(description="File path relative to the root.")],
            text: Annotated[str, Field(description="The whole new content, written as UTF-8.")],
            overwrite: Annotated[
                bool, Field(description="Replace the file if it exists; if false, refuse.")
            ] = True,
        ) -> Written:
            """Write a UTF-8 text file under the root (replaced whole); its directory must exist."""
            try:
                data = text.encode("utf-8")
            except UnicodeEncodeError:
                raise ToolError("text has lone surrogates; it cannot be written as UTF-8") from None
            with _as_tool_error():
                if len(data) > max_read_bytes:
                    raise FsError(
                        f"text is {len(data)} bytes, over the write limit of {max_read_bytes} bytes"
                    )
                found, created = roots.write_bytes(path, data, overwrite=overwrite)
            return Written(path=found, size=len(data), created=created)

    @mcp.resource(
        "file:///{+path}",
        name="file",
        description="A UTF-8 text file under the root; the URI path is relative to the root.",
        mime_type="text/plain",
    )
    def read_file(path: str) -> str:
        """Read a text file under the root as a resource."""
        try:
            _, data = roots.read_bytes(path, max_read_bytes)
            return decode_text(path, data)
        except PathNotFound as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except FsError as exc:
            # The caller's request is at fault, not the server: -32602, like a missing file.
            raise MCPError(INVALID_PARAMS, str(exc)) from exc

    return mcp


def decode_text(path: str, data: bytes) -> str:
    """`data` decoded as UTF-8 text.

    Raises:
        FsError: The data is binary (it has a NUL byte) or not valid UTF-8.
    """
    # UTF-8 allows NUL, but no text file contains one: it marks binary content.
    if b"\0" not in data:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    raise FsError(f"{path!r} is not UTF-8 text (binary content); only text files can be read")


@contextmanager
def _as_tool_error() -> Generator[None, None, None]:
    """Turn an `FsError` into the SDK's `ToolError`, which becomes an `isError` result."""
    try:
        yield
    except FsError as exc:
        raise ToolError(str(exc)) from exc


def _named(root: RootSpec) -> list[tuple[str, Path | str]]:
    if isinstance(root, (str, Path)):
        return [(Path(root).resolve().name or "root", root)]
    return list(root)


def _kind(mode: int) -> Literal["file", "dir", "other"]:
    if stat_bits.S_ISREG(mode):
        return "file"
    if stat_bits.S_ISDIR(mode):
        return "dir"
    return "other"


def _instructions(roots: Roots, writable: bool) -> str:
    access = "Read and write" if writable else "Read-only"
    if len(roots.names) == 1:
        where = "the files under one root directory. Paths are relative to that root"
    else:
        where = (
            f"the files under {len(roots.names)} root directories, named "
            f"{', '.join(roots.names)}. A path starts with a root's name"
        )
    return (
        f"{access} access to {where} ('.' is the top); absolute paths and paths leading "
        "outside are refused. Use listDir and glob to explore, stat for details, "
        "readFileText to read UTF-8 text files"
        + (", writeFileText to write them." if writable else ".")
    )
