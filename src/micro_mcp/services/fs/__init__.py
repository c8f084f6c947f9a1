"""The fs service: an MCP server giving confined access to the files under one or more roots.

See `server` for the tools and the resource template, `paths` and `walk` for the confinement
rules, `sandbox` for the file operations and `roots` for several named roots.
"""

from micro_mcp.services.fs.server import build_server

__all__ = ["build_server"]
