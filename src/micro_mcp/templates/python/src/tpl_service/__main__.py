"""Run the server: `python -m tpl_service` (stdio) or `python -m tpl_service --http`."""

import argparse
from collections.abc import Sequence

from tpl_service.server import build_server


def main(argv: Sequence[str] | None = None) -> None:
    """Serve MCP over stdio (how a gateway runs a local service), or Streamable HTTP at /mcp."""
    parser = argparse.ArgumentParser(prog="tpl-service", description=__doc__)
    parser.add_argument("--http", action="store_true", help="serve Streamable HTTP at /mcp")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port")
    args = parser.parse_args(argv)
    server = build_server()
    if args.http:
        server.run("streamable-http", host=args.host, port=args.port)
    else:
        server.run()


if __name__ == "__main__":
    main()
