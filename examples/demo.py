"""The gateway end to end: start it over the example services, list the merged catalog, and call
one tool of each service, as an MCP client (the official SDK's) would.

    .venv/bin/python examples/demo.py            # 2026-07-28 if both sides speak it
    .venv/bin/python examples/demo.py --legacy   # the initialize handshake
    .venv/bin/python examples/demo.py --audit demo-audit.jsonl   # keep the audit trail there

It needs no network: the http service fetches a page the demo serves itself on 127.0.0.1.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

EXAMPLES = Path(__file__).resolve().parent


class Page(BaseHTTPRequestHandler):
    """Serves one small HTML page."""

    def do_GET(self) -> None:
        body = b"<html><body><h1>micro-mcp</h1><p>One endpoint, many services.</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def show(title: str, result: Any) -> None:
    text = result.content[0].text if result.content else ""
    print(f"\n== {title}{' (error)' if result.is_error else ''}\n{text[:400]}")


async def main(mode: str, keep: str | None) -> None:
    web = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{web.server_address[1]}/"
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        (root / "hello.txt").write_text("Hello from the fs service.\n")
        manifest = json.loads((EXAMPLES / "discovery.example.json").read_text())
        services = manifest["mcpServers"]
        services["fs"]["args"] = ["-m", "micro_mcp.services.fs", "--root", str(root)]
        services["http"]["env"]["ALLOWLIST"] += ",127.0.0.1"
        discovery = root / "discovery.json"
        discovery.write_text(json.dumps(manifest))
        audit = Path(keep).resolve() if keep else root / "audit.jsonl"
        key = audit.with_suffix(".key")  # made on first start; signs every record
        config = root / "gateway.json"
        config.write_text(json.dumps({"audit": {"path": str(audit), "keyFile": str(key)}}))
        gateway = StdioServerParameters(
            command=sys.executable,
            args=["-m", "micro_mcp", "gateway", "--discovery", str(discovery), "--config", str(config)],
        )
        async with Client(gateway, mode=mode) as client:
            print(f"connected: protocol {client.protocol_version}")
            tools = (await client.list_tools()).tools
            print(f"\n== merged catalog: {len(tools)} tools")
            for tool in tools:
                print(f"  {tool.name:22} {(tool.description or '').splitlines()[0][:60]}")
            show("fs.readFileText", await client.call_tool("fs.readFileText", {"path": "hello.txt"}))
            show("http.fetchText", await client.call_tool("http.fetchText", {"url": url}))
            await client.call_tool("vector.addDocument", {"id": "mesh", "text": "a gateway composes many small MCP services"})
            await client.call_tool("vector.addDocument", {"id": "bread", "text": "bread needs flour, water and time"})
            show("vector.search", await client.call_tool("vector.search", {"query": "compose services", "k": 1}))
        lines = audit.read_text().splitlines()
        print(f"\n== audit trail: {len(lines)} lines; the last one:\n{lines[-1]}")
    web.shutdown()


if __name__ == "__main__":
    kept = sys.argv[sys.argv.index("--audit") + 1] if "--audit" in sys.argv else None
    anyio.run(main, "legacy" if "--legacy" in sys.argv else "auto", kept)
