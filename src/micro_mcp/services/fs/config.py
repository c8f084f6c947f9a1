"""Command-line and environment settings of the fs server."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from micro_mcp.services.fs.server import DEFAULT_MAX_READ_BYTES

DEFAULT_PORT = 8001
"""Port for `--http` when `--port` is not given."""


@dataclass(frozen=True, slots=True)
class FsConfig:
    """How to run the fs server."""

    root: Path
    max_read_bytes: int
    http: bool
    host: str
    port: int


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> FsConfig:
    """Parse `argv` (without the program name); `--root` wins over `FS_ROOT`, then the cwd."""
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.fs",
        description="MCP server giving read-only access to the files under one root directory.",
    )
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(environ.get("FS_ROOT") or "."),
        help="directory to serve (default: $FS_ROOT, else the current directory)",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_READ_BYTES,
        help=f"largest file readFileText returns (default: {DEFAULT_MAX_READ_BYTES})",
    )
    _add_transport_arguments(parser)
    args = parser.parse_args(list(argv))
    return FsConfig(
        root=args.root,
        max_read_bytes=args.max_bytes,
        http=args.http,
        host=args.host,
        port=args.port,
    )


def _add_transport_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
