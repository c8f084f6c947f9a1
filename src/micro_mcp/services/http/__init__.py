"""The http service: an MCP server fetching text from an allowlist of http(s) hosts.

See `server` for the tool, `allowlist` for host matching and `fetcher` for the hop-by-hop
redirect, size and content-type rules.
"""

from micro_mcp.services.http.server import build_server

__all__ = ["build_server"]
