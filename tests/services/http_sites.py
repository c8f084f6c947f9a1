"""Real local servers for the http service's tests: a web site, and a sentinel that must stay idle.

`Site` is a stdlib HTTP server with fixed routes (text in several charsets and encodings,
redirects to any URL, a page that never answers). `Sentinel` is a bare TCP listener on
127.0.0.1 (and ::1 on the same port when it can) standing for every internal service an
attacker would aim at: it records each connection it accepts, and an SSRF test passes only if
it recorded none. Both run in threads, so they answer whatever the event loop is doing.
"""

from __future__ import annotations

import gzip
import socket
import socketserver
import threading
from collections.abc import Generator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

SITE_HOST = "127.0.0.2"
"""The test site's address: loopback, but not the sentinel's 127.0.0.1."""

PAGE = """<!doctype html><html><head><title>Test  page</title>
<style>body { color: red }</style><script>document.write("<p>hidden</p>")</script></head>
<body><h1>Welcome</h1><p>First &amp; <b>only</b> paragraph, with
<a href="/plain">a link</a> and <a href="javascript:alert(1)">a script link</a>.</p>
<img src="data:image/png;base64,iVBORw0KGgo=" alt="pixel">
<ul><li>one</li><li>two</li></ul><pre>  keep
   this</pre></body></html>"""

BOMB_SIZE = 50 * 1024 * 1024
"""Decoded size of /bomb.txt: 50 MiB of zeros that gzip to about 50 KiB."""

_BOMB = gzip.compress(b"\0" * BOMB_SIZE, compresslevel=9)

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/plain": (200, {"Content-Type": "text/plain; charset=utf-8"}, "héllo plain\n".encode()),
    "/latin1": (200, {"Content-Type": "text/plain; charset=iso-8859-1"}, "café".encode("latin-1")),
    "/meta-charset.html": (
        200,
        {"Content-Type": "text/html"},
        '<meta charset="windows-1252"><p>naïve</p>'.encode("cp1252"),
    ),
    "/bogus-charset": (200, {"Content-Type": "text/plain; charset=hex"}, "ok ✓".encode()),
    "/page.html": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.encode()),
    "/data.json": (200, {"Content-Type": "application/json"}, b'{"ok": true}'),
    "/feed.xml": (200, {"Content-Type": "application/atom+xml"}, b"<feed>hi</feed>"),
    "/image.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n"),
    "/untyped": (200, {}, b"no content type"),
    "/big": (200, {"Content-Type": "text/plain"}, b"x" * 5000),
    "/utf8-cut": (200, {"Content-Type": "text/plain; charset=utf-8"}, "aé".encode()),
    "/gzip.txt": (
        200,
        {"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        gzip.compress(b"compressed text"),
    ),
    "/bomb.txt": (200, {"Content-Type": "text/plain", "Content-Encoding": "gzip"}, _BOMB),
    "/brotli.txt": (200, {"Content-Type": "text/plain", "Content-Encoding": "br"}, b"\x0b"),
    "/corrupt.gz": (
        200,
        {"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff",  # a gzip header, then block type 3
    ),
    "/missing": (404, {"Content-Type": "text/plain"}, b"not here"),
    "/to-plain": (302, {"Location": "/plain"}, b""),
    "/to-to-plain": (301, {"Location": "/to-plain"}, b""),
    "/loop": (302, {"Location": "/loop"}, b""),
    "/to-nowhere": (302, {"Location": "http://[::1/"}, b""),
}
"""path -> (status, headers, body)."""


class _SiteHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        server = cast(_SiteServer, self.server)
        server.requests.append(self.path)
        if url.path == "/hang":
            server.release.wait()
            return
        if url.path == "/redirect":
            # /redirect?to=URL[&status=30x]: the attacker-controlled Location of SSRF tests.
            query = parse_qs(url.query)
            status = int(query.get("status", ["302"])[0])
            status, headers, body = status, {"Location": query["to"][0]}, b""
        elif url.path == "/echo-host":
            status, headers = 200, {"Content-Type": "text/plain"}
            body = f"{self.headers['Host']} {self.headers['Accept-Encoding']}".encode()
        else:
            status, headers, body = ROUTES.get(url.path, (404, {}, b""))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


class _SiteServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _SiteHandler)
        self.requests: list[str] = []
        self.release = threading.Event()


@contextmanager
def site() -> Generator[_SiteServer]:
    """Serve ROUTES on SITE_HOST (a free port) until the block ends."""
    server = _SiteServer((SITE_HOST, 0))
    # A short poll interval only makes shutdown() return sooner; nothing waits on it.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


class _Recorder(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        cast(_Listener, self.server).sentinel.record(self.client_address)


class _Listener(socketserver.TCPServer):
    """One accept loop; handling is inline, so connections are recorded in accept order."""

    allow_reuse_address = True

    def __init__(self, sentinel: Sentinel, address: tuple[str, int], family: int) -> None:
        self.address_family = family
        self.sentinel = sentinel
        super().__init__(address, _Recorder)


class Sentinel:
    """A listener on 127.0.0.1 (and ::1) that records every connection made to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[str, int]] = []
        self._probes: set[tuple[str, int]] = set()
        self._probe_seen = threading.Condition(self._lock)
        self._listeners = [_Listener(self, ("127.0.0.1", 0), socket.AF_INET)]
        self.port: int = self._listeners[0].server_address[1]
        # Without IPv6 loopback, or with the port taken there, 127.0.0.1 alone still counts.
        with suppress(OSError):
            self._listeners.append(_Listener(self, ("::1", self.port), socket.AF_INET6))
        self._threads = [
            threading.Thread(target=listener.serve_forever, args=(0.01,), daemon=True)
            for listener in self._listeners
        ]

    def record(self, peer: tuple[str, int]) -> None:
        """Note one accepted connection."""
        with self._lock:
            self._seen.append((peer[0], peer[1]))
            self._probe_seen.notify_all()

    def hits(self) -> list[tuple[str, int]]:
        """Every connection but our own probes, once all made so far have been accepted.

        A probe connection is made to each listener and waited for: accepts come in order,
        so by the time a probe is recorded, every earlier connection has been too.
        """
        for listener in self._listeners:
            host, port = listener.server_address[:2]
            family = listener.address_family
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.connect((host, port))
                name = probe.getsockname()
                peer = (str(name[0]), int(name[1]))
                with self._lock:
                    self._probes.add(peer)
                    if not self._probe_seen.wait_for(lambda p=peer: p in self._seen, timeout=10):
                        raise AssertionError("the sentinel stopped accepting")
        with self._lock:
            return [peer for peer in self._seen if peer not in self._probes]

    def __enter__(self) -> Sentinel:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for listener in self._listeners:
            listener.shutdown()
            listener.server_close()
        for thread in self._threads:
            thread.join()
