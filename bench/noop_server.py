"""The cheapest MCP server we can write: a stdio loop that answers from prebuilt bytes.

It exists so that a benchmark through the gateway measures the gateway, not the service. It
speaks both eras just enough for the harness: `initialize`, `server/discover`, `tools/list`,
`tools/call` (`echo`, `blob` returning `--blob-bytes` of text, and `hang`, never answered),
`ping`.

    python bench/noop_server.py [--tools N] [--blob-bytes N]
"""

from __future__ import annotations

import argparse
import os
import sys

import orjson


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tools", type=int, default=1, help="tools listed besides echo and blob")
    parser.add_argument("--blob-bytes", type=int, default=1024 * 1024)
    args = parser.parse_args()
    schema = {"type": "object", "properties": {"text": {"type": "string"}}}
    tools = [
        {"name": "echo", "description": "Return the text.", "inputSchema": schema},
        {"name": "blob", "description": "Return a large text.", "inputSchema": {"type": "object"}},
        {"name": "hang", "description": "Never answer.", "inputSchema": {"type": "object"}},
    ]
    tools += [
        {"name": f"tool{n}", "description": f"No-op {n}.", "inputSchema": schema}
        for n in range(args.tools)
    ]
    blob = {"content": [{"type": "text", "text": "x" * args.blob_bytes}]}
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        request_id = message.get("id")
        if request_id is None or "method" not in message:
            continue
        method = message["method"]
        params = message.get("params") or {}
        modern = "io.modelcontextprotocol/protocolVersion" in (params.get("_meta") or {})
        result: dict[str, object] | None
        if method == "tools/call" and params.get("name") == "hang":
            continue  # a stuck service: the call is never answered
        if method == "tools/call":
            arguments = params.get("arguments") or {}
            result = (
                blob
                if params.get("name") == "blob"
                else {"content": [{"type": "text", "text": arguments.get("text", "")}]}
            )
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "initialize":
            result = {
                "protocolVersion": params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "noop", "version": "1"},
            }
        elif method == "server/discover":
            result = {"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}}}
        elif method == "ping":
            result = {}
        else:
            result = None
        if result is not None and modern:
            result = {**result, "resultType": "complete"}
        reply = {"jsonrpc": "2.0", "id": request_id}
        if result is None:
            reply["error"] = {"code": -32601, "message": f"Method not found: {method}"}
        else:
            reply["result"] = result
        out.write(orjson.dumps(reply, option=orjson.OPT_APPEND_NEWLINE))
        out.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
