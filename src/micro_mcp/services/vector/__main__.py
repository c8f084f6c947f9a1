"""Run the vector server: `python -m micro_mcp.services.vector [--http ...]`."""

from __future__ import annotations

import sys

from micro_mcp.services.vector.config import parse_config
from micro_mcp.services.vector.server import build_server


def main() -> None:
    """Serve over stdio, or Streamable HTTP with `--http`."""
    config = parse_config(sys.argv[1:])
    server = build_server(max_documents=config.max_documents)
    if config.http:
        server.run("streamable-http", host=config.host, port=config.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
