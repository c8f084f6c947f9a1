"""Pure protocol knowledge: JSON-RPC envelopes, MCP versions and methods, namespacing. No I/O."""
