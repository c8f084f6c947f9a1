"""The least an MCP relay can do, as a yardstick for the gateway's own cost. Bench only.

    python bench/bare_relay.py -- ARGV...                    # stdio: spawn ARGV, relay lines
    python bench/bare_relay.py --http PORT --upstream URL    # HTTP: relay POSTs to URL

Each request gets a fresh id on the way up and its own id back on the way down; nothing else is
read or changed: no names, no policy, no audit, no metrics, no task per request. The stdio form
is one asyncio loop with two readers; the HTTP form is a raw ASGI app on the gateway's own
server (uvicorn with httptools) writing each request at once on a kept-alive connection, so it
shows what the server and the two extra socket hops cost and no more.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

LINE_LIMIT = 64 * 1024 * 1024
"""Longest line read: the 1 MiB result scenario fits many times over."""

_ids = itertools.count(1)


def _up(message: dict[str, Any], pending: dict[int, Any]) -> bytes:
    """A client message with a fresh id if it is a request, encoded."""
    if "method" in message and "id" in message:
        fresh = next(_ids)
        pending[fresh] = message["id"]
        message["id"] = fresh
    return orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)


def _down(message: dict[str, Any], pending: dict[int, Any]) -> dict[str, Any]:
    """A service message with the client's id back if it is a response."""
    if "method" not in message and "id" in message:
        message["id"] = pending.pop(message["id"], message["id"])
    return message


# --- stdio ------------------------------------------------------------------------------------


async def relay_stdio(argv: list[str]) -> None:
    """Relay this process's stdin and stdout to a child's until the client closes stdin."""
    loop = asyncio.get_running_loop()
    child = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT
    )
    assert child.stdin is not None and child.stdout is not None
    upstream_in, upstream_out = child.stdin, child.stdout
    client_in = asyncio.StreamReader(limit=LINE_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(client_in), sys.stdin)
    pending: dict[int, Any] = {}

    async def down() -> None:
        while line := await upstream_out.readline():
            data = orjson.dumps(
                _down(orjson.loads(line), pending), option=orjson.OPT_APPEND_NEWLINE
            )
            view = memoryview(data)
            while view:  # stdout is a blocking pipe: os.write takes what fits, the loop the rest
                view = view[os.write(1, view) :]

    reader = asyncio.ensure_future(down())
    while line := await client_in.readline():
        if line.strip():
            upstream_in.write(_up(orjson.loads(line), pending))
            await upstream_in.drain()
    upstream_in.close()
    await reader
    await child.wait()


# --- HTTP -------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_FORWARDED_UP = (
    b"content-type",
    b"accept",
    b"mcp-session-id",
    b"mcp-protocol-version",
    b"mcp-method",
    b"mcp-name",
)
_FORWARDED_DOWN = (b"content-type", b"mcp-session-id")


class _Upstream:
    """One kept-alive connection to the service: a request written at once, the reply read whole."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, head: bytes, body: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
        self.writer.write(head + body)
        status_line, *lines = (await self.reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
        headers = {}
        for line in lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if b"content-length" in headers:
            data = await self.reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            pieces = []
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                pieces.append((await self.reader.readexactly(size + 2))[:-2])
            await self.reader.readuntil(b"\r\n")
            data = b"".join(pieces)
        else:
            data = b""
        return int(status_line.split()[1]), headers, data


def http_app(upstream: str) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A raw ASGI app relaying every request to `upstream` over kept-alive connections (one per
    request in flight, reused), the body read whole both ways."""
    rest = upstream.split("://", 1)[1]
    authority, _, path = rest.partition("/")
    host, _, port = authority.rpartition(":")
    target = f"/{path}".encode()
    idle: list[_Upstream] = []
    pending: dict[int, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        if body:
            body = _up(orjson.loads(body), pending)[:-1]
        head = [scope["method"].encode(), b" ", target, b" HTTP/1.1\r\nhost: ", authority.encode()]
        head += [
            b"\r\n" + name + b": " + value
            for name, value in scope["headers"]
            if name in _FORWARDED_UP
        ]
        head.append(b"\r\ncontent-length: %d\r\n\r\n" % len(body))
        connection = (
            idle.pop() if idle else _Upstream(*await asyncio.open_connection(host, int(port)))
        )
        status, headers, out = await connection.exchange(b"".join(head), body)
        idle.append(connection)
        kind = headers.get(b"content-type", b"")
        if kind.startswith(b"application/json") and out:
            out = orjson.dumps(_down(orjson.loads(out), pending))
        elif kind.startswith(b"text/event-stream"):
            lines = out.split(b"\n")
            for n, line in enumerate(lines):
                if line.startswith(b"data:") and line[5:].strip():
                    lines[n] = b"data: " + orjson.dumps(_down(orjson.loads(line[5:]), pending))
            out = b"\n".join(lines)
        down = [(name, headers[name]) for name in _FORWARDED_DOWN if name in headers]
        down.append((b"content-length", str(len(out)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": down})
        await send({"type": "http.response.body", "body": out})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--http", type=int, metavar="PORT")
    parser.add_argument("--upstream", metavar="URL")
    parser.add_argument("argv", nargs="*")
    args = parser.parse_args()
    if args.http:
        import uvicorn

        uvicorn.run(
            http_app(args.upstream),
            host="127.0.0.1",
            port=args.http,
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
    else:
        asyncio.run(relay_stdio(args.argv))


if __name__ == "__main__":
    main()
