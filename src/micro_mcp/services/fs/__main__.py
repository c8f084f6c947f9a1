"""Run the fs server: `python -m micro_mcp.services.fs [--root [NAME=]DIR]... [--writable]`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from micro_mcp.services.fs.config import parse_config
from micro_mcp.services.fs.errors import FsError
from micro_mcp.services.fs.server import build_server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over stdio, or Streamable HTTP with `--http`."""
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    try:
        server = build_server(
            config.roots, max_read_bytes=config.max_read_bytes, writable=config.writable
        )
    except FsError as exc:
        sys.exit(f"fs: {exc}")
    if config.http:
        server.run("streamable-http", host=config.host, port=config.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
