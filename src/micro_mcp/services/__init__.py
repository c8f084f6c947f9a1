"""Example MCP micro-services: `fs`, `http` and `vector`.

Each subpackage is a standalone MCP server (`python -m micro_mcp.services.NAME`) that imports
nothing from micro_mcp outside its own package, so it can be deployed, tested and replaced on
its own; the gateway reaches them only over a transport.
"""

from typing import Final

EXAMPLES: Final = ("fs", "http", "vector")
"""The example services that ship in this package, by subpackage name."""
