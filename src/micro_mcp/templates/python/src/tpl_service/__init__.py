"""tpl-service: an MCP micro-service."""
