"""micro-mcp: one MCP endpoint over many small MCP services."""

from micro_mcp.errors import ConfigError, McpError, MicroMcpError

__all__ = ["ConfigError", "McpError", "MicroMcpError", "__version__"]
__version__ = "0.1.0"
