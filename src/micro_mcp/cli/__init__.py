"""The `micro-mcp` command line."""
