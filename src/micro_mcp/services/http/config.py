"""Command-line and environment settings of the http server."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.server import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
)

DEFAULT_PORT = 8002
"""Port for `--http` when `--port` is not given."""


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """How to run the http server."""

    allowlist: Allowlist
    max_bytes: int
    timeout: float
    max_redirects: int
    http: bool
    host: str
    port: int


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> HttpConfig:
    """Parse `argv` (without the program name); the allowlist is `ALLOWLIST` plus `--allow`s."""
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.http",
        description="MCP server fetching text from allowlisted http(s) hosts.",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="HOST",
        help="allow HOST (exact) or *.DOMAIN (subdomains only); repeatable; adds to $ALLOWLIST",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BYTES,
        help=f"body bytes read per fetch before cutting (default: {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per fetch, redirects included (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-redirects",
        type=_non_negative_int,
        default=DEFAULT_MAX_REDIRECTS,
        help=f"redirect hops followed, each re-checked (default: {DEFAULT_MAX_REDIRECTS})",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port")
    args = parser.parse_args(list(argv))
    try:
        allowlist = Allowlist.from_env(environ.get("ALLOWLIST")) | Allowlist.parse(args.allow)
    except ValueError as exc:
        parser.error(str(exc))
    return HttpConfig(
        allowlist=allowlist,
        max_bytes=args.max_bytes,
        timeout=args.timeout,
        max_redirects=args.max_redirects,
        http=args.http,
        host=args.host,
        port=args.port,
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
