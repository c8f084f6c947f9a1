"""The vector service: an MCP server over named document collections, kept in SQLite.

`server` declares the tools (`build_server`, `open_store`); `store` holds collections and ranks
documents with the indexes in `sparse` (word counts), `dense` (embeddings, optional, made by
`encoder`) and `filters` (metadata); `database` is the SQLite record they are rebuilt from.

Nothing of the service is imported here, so that `__main__` runs before numpy loads (see
there); `find_spec` only checks that numpy is installed, without loading it.
"""

from importlib.util import find_spec

if find_spec("numpy") is None:  # the gateway alone is installed without the examples' libraries
    raise ImportError(
        "the vector service needs numpy, which comes with micro-mcp's `examples` extra: "
        "pip install '.[examples]' from the clone"
    )
