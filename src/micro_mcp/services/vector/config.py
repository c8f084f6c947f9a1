"""Command-line settings of the vector server."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from micro_mcp.services.vector.server import DEFAULT_MAX_DOCUMENTS

DEFAULT_PORT = 8003
"""Port for `--http` when `--port` is not given."""


@dataclass(frozen=True, slots=True)
class VectorConfig:
    """How to run the vector server."""

    max_documents: int
    http: bool
    host: str
    port: int


def parse_config(argv: Sequence[str]) -> VectorConfig:
    """Parse `argv` (without the program name)."""
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.vector",
        description="MCP server with an in-memory document index searched by similarity.",
    )
    parser.add_argument(
        "--max-documents",
        type=_positive_int,
        default=DEFAULT_MAX_DOCUMENTS,
        help=f"most documents the store holds (default: {DEFAULT_MAX_DOCUMENTS})",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port")
    args = parser.parse_args(list(argv))
    return VectorConfig(
        max_documents=args.max_documents, http=args.http, host=args.host, port=args.port
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
