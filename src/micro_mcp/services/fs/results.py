"""The structured results of the fs tools; their JSON Schemas are the tools' `outputSchema`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from micro_mcp.services.fs.sandbox import EntryType

MAX_ENTRIES = 1000
"""Most entries one listDir result carries; the rest are cut and `truncated` is set."""

MAX_MATCHES = 1000
"""Most matches one glob result can carry, whatever `maxResults` asks."""


class _Result(BaseModel):
    # Exact schemas: a field the schema does not declare is a bug, not an extension.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DirEntry(_Result):
    """One entry of a directory listing."""

    name: str = Field(description="Entry name, without any directory part.")
    type: EntryType = Field(description="file, dir, symlink (never followed) or other.")
    size: int | None = Field(
        description="Size in bytes of a regular file with one link; otherwise null."
    )


class DirListing(_Result):
    """The result of listDir."""

    path: str = Field(description="The listed directory, relative to the root.")
    entries: list[DirEntry] = Field(description="Entries sorted by name.")
    truncated: bool = Field(description=f"True if entries past the first {MAX_ENTRIES} were cut.")


class FileText(_Result):
    """The result of readFileText; the text is also the result's text content."""

    path: str = Field(description="The file read, relative to the root, symlinks resolved.")
    text: str = Field(description="The whole file decoded as UTF-8.")
    size: int = Field(description="File size in bytes.")


class FileStatus(_Result):
    """The result of stat."""

    path: str = Field(description="The path, relative to the root, symlinks resolved.")
    type: Literal["file", "dir", "other"] = Field(
        description="What the path names once symlinks are resolved."
    )
    size: int = Field(description="Size in bytes (for a directory, what the file system says).")
    modified: str = Field(description="Last modification time, ISO 8601 in UTC.")
    mode: str = Field(description="Permission bits in octal, e.g. '0644'.")


class GlobMatch(_Result):
    """One entry matching a glob pattern."""

    path: str = Field(description="The entry, relative to the root.")
    type: EntryType = Field(description="file, dir, symlink (never followed) or other.")
    size: int | None = Field(
        description="Size in bytes of a regular file with one link; otherwise null."
    )


class GlobResult(_Result):
    """The result of glob."""

    path: str = Field(description="The directory searched, relative to the root.")
    pattern: str = Field(description="The pattern, as given.")
    matches: list[GlobMatch] = Field(description="Matching entries, depth first, names sorted.")
    truncated: bool = Field(description="True if a limit stopped the search before the end.")


class Written(_Result):
    """The result of writeFileText."""

    path: str = Field(description="The file written, relative to the root, symlinks resolved.")
    size: int = Field(description="Bytes written (the text encoded as UTF-8).")
    created: bool = Field(description="True if the file did not exist before.")
