"""Bytes to messages and back: line framing, stdio pipes, child processes."""
