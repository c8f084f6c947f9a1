"""Lean MCP clients for benchmarks: raw JSON-RPC over a child's stdio, and over HTTP/1.1.

The SDK client costs about 1.5 ms a call of its own; these cost tens of microseconds, so what a
benchmark sees is the server side. They speak just enough MCP: the handshake (`initialize`) or
the 2026-07-28 envelope, then requests.
"""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Mapping
from typing import Any

import anyio
import orjson
from anyio.abc import ByteStream, Process

ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}
NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def params_for(era: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Add the 2026-07-28 envelope to a request's params when speaking that era."""
    if era != "modern":
        return params
    return {**(params or {}), "_meta": ENVELOPE}


class StdioClient:
    """Requests to an MCP server run as a child process; many may be in flight."""

    def __init__(self, process: Process, era: str) -> None:
        self.process = process
        self.era = era
        self._ids = itertools.count(1)
        self._waiting: dict[int, tuple[anyio.Event, list[dict[str, Any]]]] = {}
        self._lock = anyio.Lock()

    @classmethod
    async def start(
        cls,
        argv: list[str],
        era: str,
        tg: anyio.abc.TaskGroup,
        env: Mapping[str, str] | None = None,
    ) -> StdioClient:
        process = await anyio.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        client = cls(process, era)
        tg.start_soon(client._read)
        await client.handshake()
        return client

    async def handshake(self) -> None:
        if self.era == "modern":
            await self.call("server/discover", {})
        else:
            await self.call(
                "initialize",
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "1"},
                },
            )
            await self._write({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        done = anyio.Event()
        slot: list[dict[str, Any]] = []
        self._waiting[request_id] = (done, slot)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        wrapped = params_for(self.era, params) if method != "initialize" else params
        if wrapped is not None:
            message["params"] = wrapped
        await self._write(message)
        await done.wait()
        return slot[0]

    async def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        data = orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)
        async with self._lock:
            await self.process.stdin.send(data)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        buffer = b""
        async for chunk in self.process.stdout:
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if not line:
                    continue
                message = orjson.loads(line)
                waiter = (
                    self._waiting.pop(message.get("id"), None) if "method" not in message else None
                )
                if waiter is not None:
                    waiter[1].append(message)
                    waiter[0].set()

    async def close(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()
        with anyio.move_on_after(5):
            await self.process.wait()
        if self.process.returncode is None:
            self.process.kill()
        await self.process.aclose()


class HttpClient:
    """One keep-alive HTTP/1.1 connection speaking MCP's Streamable HTTP, one request at a time."""

    def __init__(
        self, stream: ByteStream, host: str, path: str, era: str, token: str | None
    ) -> None:
        self.stream = stream
        self.host = host
        self.path = path
        self.era = era
        self.token = token
        self.session: str | None = None
        self._ids = itertools.count(1)
        self._buffer = b""

    @classmethod
    async def connect(cls, url: str, era: str, token: str | None = None) -> HttpClient:
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        stream = await anyio.connect_tcp(host, int(port))
        client = cls(stream, hostport, "/" + path, era, token)
        if era == "modern":
            await client.call("server/discover", {})
        else:
            await client.call(
                "initialize",
                {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "bench", "version": "1"},
                },
            )
            await client._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return client

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = next(self._ids)
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        wrapped = params_for(self.era, params) if method != "initialize" else params
        if wrapped is not None:
            message["params"] = wrapped
        status, headers, body = await self._post(message)
        if method == "initialize":
            self.session = headers.get("mcp-session-id")
        if headers.get("content-type", "").startswith("text/event-stream"):
            for line in body.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip():
                    reply = orjson.loads(line[5:])
                    if reply.get("id") == request_id:
                        return reply
            raise AssertionError(f"no reply in the event stream: {body[:200]!r}")
        if status >= 400 and not body:
            raise AssertionError(f"HTTP {status}")
        return orjson.loads(body)

    async def _post(self, message: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        body = orjson.dumps(message)
        lines = [
            f"POST {self.path} HTTP/1.1",
            f"Host: {self.host}",
            "Content-Type: application/json",
            "Accept: application/json, text/event-stream",
            f"Content-Length: {len(body)}",
        ]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        if self.era == "modern":
            method = message.get("method", "")
            lines += ["MCP-Protocol-Version: 2026-07-28", f"Mcp-Method: {method}"]
            named = NAMED.get(method)
            if named:
                lines.append(f"Mcp-Name: {message['params'][named]}")
        elif self.session:
            lines += [f"Mcp-Session-Id: {self.session}", "MCP-Protocol-Version: 2025-11-25"]
        await self.stream.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await self._response()

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        head = await self._until(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split()[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            return status, headers, await self._exactly(int(headers["content-length"]))
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self._until(b"\r\n")).split(b";")[0], 16)
                chunk = await self._exactly(size + 2)
                if size == 0:
                    return status, headers, body
                body += chunk[:-2]
        return status, headers, b""

    async def _until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._buffer += await self.stream.receive()
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    async def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._buffer += await self.stream.receive()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    async def close(self) -> None:
        await self.stream.aclose()
