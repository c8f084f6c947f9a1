"""The vector service: an MCP server over named document collections, kept in SQLite.

`server` declares the tools; `store` holds collections and ranks documents with the indexes in
`sparse` (word counts), `dense` (embeddings, optional, made by `encoder`) and `filters`
(metadata); `database` is the SQLite record they are rebuilt from.
"""

from micro_mcp.services.vector.server import build_server, open_store

__all__ = ["build_server", "open_store"]
