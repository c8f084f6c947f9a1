"""The vector service: an MCP server with an in-memory index searched by cosine similarity.

See `server` for the tools and `store` for tokenization and scoring.
"""

from micro_mcp.services.vector.server import build_server

__all__ = ["build_server"]
