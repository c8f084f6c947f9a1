"""The fs service: an MCP server with read-only access to the files under one root.

See `server` for the tools and the resource template, `sandbox` for the confinement rules.
"""

from micro_mcp.services.fs.server import build_server

__all__ = ["build_server"]
