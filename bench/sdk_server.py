"""An MCP server on the official SDK with one no-op tool, `echo`: the realistic upstream.

python bench/sdk_server.py            # stdio
python bench/sdk_server.py --http N   # Streamable HTTP on 127.0.0.1:N/mcp
"""

from __future__ import annotations

import argparse
import logging

from mcp.server import MCPServer

server = MCPServer("bench")


@server.tool()
def echo(text: str = "") -> str:
    """Return the text."""
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, metavar="PORT")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # one log line per request would be measured too
    if args.http:
        server.run("streamable-http", host="127.0.0.1", port=args.http)
    else:
        server.run()
