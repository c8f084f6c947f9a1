"""Files packaged with micro-mcp: the default discovery manifest."""
