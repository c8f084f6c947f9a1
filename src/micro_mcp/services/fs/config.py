"""Command-line and environment settings of the fs server."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from micro_mcp.services.fs.roots import ROOT_NAME
from micro_mcp.services.fs.server import DEFAULT_MAX_READ_BYTES

DEFAULT_PORT = 8001
"""Port for `--http` when `--port` is not given."""

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class FsConfig:
    """How to run the fs server."""

    roots: list[tuple[str, Path]]
    max_read_bytes: int
    writable: bool
    http: bool
    host: str
    port: int

    @property
    def root(self) -> Path:
        """The first root's directory."""
        return self.roots[0][1]


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> FsConfig:
    """Parse `argv` (without the program name); `--root` wins over `FS_ROOT`, then the cwd."""
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.fs",
        description="MCP server giving confined access to the files under its root directories.",
    )
    parser.add_argument(
        "--root",
        action="append",
        metavar="[NAME=]DIR",
        help="directory to serve; repeat for several, each named NAME or after its last "
        f"component (default: $FS_ROOT, {os.pathsep}-separated, else the current directory)",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_READ_BYTES,
        help=f"largest file read or written (default: {DEFAULT_MAX_READ_BYTES})",
    )
    parser.add_argument(
        "--writable",
        action="store_true",
        default=environ.get("FS_WRITABLE", "").lower() in _TRUE,
        help="offer writeFileText (default: off, unless $FS_WRITABLE is 1)",
    )
    _add_transport_arguments(parser)
    args = parser.parse_args(list(argv))
    specs: list[str] = args.root or (environ.get("FS_ROOT") or ".").split(os.pathsep)
    return FsConfig(
        roots=[_root(spec) for spec in specs if spec],
        max_read_bytes=args.max_bytes,
        writable=args.writable,
        http=args.http,
        host=args.host,
        port=args.port,
    )


def _root(spec: str) -> tuple[str, Path]:
    """`NAME=DIR` or `DIR`; a DIR with `=` in it needs a NAME in front."""
    name, sep, directory = spec.partition("=")
    if sep and ROOT_NAME.match(name):
        return name, Path(directory)
    path = Path(spec)
    return path.resolve().name or "root", path


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
