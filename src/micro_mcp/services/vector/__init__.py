"""The vector service: an MCP server over named document collections, kept in SQLite.

`server` declares the tools (`build_server`, `open_store`); `store` holds collections and ranks
documents with the indexes in `sparse` (word counts), `dense` (embeddings, optional, made by
`encoder`) and `filters` (metadata); `database` is the SQLite record they are rebuilt from.

Nothing is imported here, so that `__main__` runs before numpy loads (see there).
"""
