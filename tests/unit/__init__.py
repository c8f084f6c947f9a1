"""Unit tests of micro-mcp's pure modules: in memory, no I/O beyond tmp_path, no event loop."""
