"""Run the http server: `python -m micro_mcp.services.http [--allow HOST ...] [--http ...]`."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from micro_mcp.services.http.config import parse_config
from micro_mcp.services.http.server import build_server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve over stdio, or Streamable HTTP with `--http`."""
    config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    if not config.settings.allowlist:
        print("http: the allowlist is empty; every fetch will be refused", file=sys.stderr)
    server = build_server(config.settings)
    if config.http:
        server.run("streamable-http", host=config.host, port=config.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
