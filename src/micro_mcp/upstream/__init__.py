"""The services behind the gateway: their processes and MCP sessions."""
