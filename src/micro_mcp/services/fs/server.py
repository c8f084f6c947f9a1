"""The `fs` MCP server: read-only listing and reading of files under one root.

Tools: `listDir(path=".")` and `readFileText(path, maxBytes?)`. Resource template
`file:///{+path}`: the path after `file:///` is relative to the root, not to `/`, so
`file:///docs/readme.md` is `<root>/docs/readme.md`. Every access goes through `Sandbox`.
"""

# No `from __future__ import annotations` here: the SDK evaluates the tools' annotations,
# and they use build_server's local limits in their descriptions.
from pathlib import Path
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from micro_mcp.services.fs.sandbox import EntryType, FsError, PathNotFound, Sandbox

DEFAULT_MAX_READ_BYTES = 1024 * 1024
"""Largest file, in bytes, that a read returns unless the server is configured otherwise."""

MAX_ENTRIES = 1000
"""Most entries one listDir result carries; the rest are cut and `truncated` is set."""

_INSTRUCTIONS = """\
Read-only access to the files under one root directory. Paths are relative to that root
('.' is the root itself); absolute paths and paths leading outside the root are refused.
Use listDir to explore and readFileText to read UTF-8 text files."""

_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


class DirEntry(BaseModel):
    """One entry of a directory listing."""

    name: str = Field(description="Entry name, without any directory part.")
    type: EntryType = Field(description="file, dir, symlink (never followed) or other.")
    size: int | None = Field(description="Size in bytes for regular files, otherwise null.")


class DirListing(BaseModel):
    """The result of listDir."""

    path: str = Field(description="The listed directory, relative to the root.")
    entries: list[DirEntry] = Field(description="Entries sorted by name.")
    truncated: bool = Field(description=f"True if more than {MAX_ENTRIES} entries were cut.")


class FileText(BaseModel):
    """The result of readFileText; the text is also the result's text content."""

    path: str = Field(description="The file read, relative to the root, symlinks resolved.")
    text: str = Field(description="The whole file decoded as UTF-8.")
    size: int = Field(description="File size in bytes.")


def build_server(
    root: Path | str = ".", *, max_read_bytes: int = DEFAULT_MAX_READ_BYTES
) -> MCPServer:
    """Build the fs server confined to `root`, reading files of at most `max_read_bytes`.

    Raises:
        FsError: The root does not exist or is not a directory.
    """
    sandbox = Sandbox(root)
    mcp = MCPServer("fs", instructions=_INSTRUCTIONS)

    # Sync tools: the SDK runs them on a worker thread, which keeps blocking file I/O off
    # the event loop.
    @mcp.tool(name="listDir", annotations=_READ_ONLY)
    def list_dir(
        path: Annotated[str, Field(description="Directory relative to the root.")] = ".",
    ) -> DirListing:
        """List the entries of a directory under the root: name, type and size."""
        try:
            listing = sandbox.list_dir(path)
        except FsError as exc:
            raise ToolError(str(exc)) from exc
        kept = listing.entries[:MAX_ENTRIES]
        return DirListing(
            path=listing.path,
            entries=[DirEntry(name=e.name, type=e.type, size=e.size) for e in kept],
            truncated=len(listing.entries) > MAX_ENTRIES,
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
        try:
            read = sandbox.read_text(path, limit)
        except FsError as exc:
            raise ToolError(str(exc)) from exc
        # The text goes out as plain content too, so a model reads it without JSON escaping.
        result = FileText(path=read.path, text=read.text, size=read.size)
        return CallToolResult(
            content=[TextContent(type="text", text=read.text)],
            structured_content=result.model_dump(mode="json"),
        )

    @mcp.resource(
        "file:///{+path}",
        name="file",
        description="A UTF-8 text file under the root; the URI path is relative to the root.",
        mime_type="text/plain",
    )
    def read_file(path: str) -> str:
        """Read a text file under the root as a resource."""
        try:
            return sandbox.read_text(path, max_read_bytes).text
        except PathNotFound as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except FsError as exc:
            raise ResourceError(str(exc)) from exc

    return mcp
