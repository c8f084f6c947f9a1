"""https through the pinned connection: TCP goes to the checked address, TLS stays on the name.

A local https server on 127.0.0.2 presents a certificate from a throwaway CA (trustme); the
service resolves `secure.test` to 127.0.0.2 with a static table and trusts that CA. The
fetch works only if SNI and certificate verification use the host name while the socket
goes to the pinned address, and fails when the certificate names another host.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Generator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from typing import Any, cast

import pytest
import trustme
from mcp import Client
from mcp.types import CallToolResult, TextContent

from micro_mcp.services.http.addresses import parse_network
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.fetcher import FetchSettings
from micro_mcp.services.http.resolver import StaticResolver
from micro_mcp.services.http.server import build_server
from tests.services.http_sites import SITE_HOST

pytestmark = pytest.mark.anyio


class _TlsServer(ThreadingHTTPServer):
    sni: str | None = None
    """The server name the last client asked for in its TLS hello."""


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        sni = cast(_TlsServer, self.server).sni
        body = f"hello over tls to {self.headers['Host']} (sni {sni})".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@contextmanager
def https_site(ca: trustme.CA, certified_name: str) -> Generator[int]:
    """Serve https on 127.0.0.2 with a certificate for `certified_name`; yield the port."""
    server = _TlsServer((SITE_HOST, 0), _Hello)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # trustme also takes pyOpenSSL contexts, which it leaves untyped.
    ca.issue_cert(certified_name).configure_cert(context)  # pyright: ignore[reportUnknownMemberType]

    def remember_sni(sock: ssl.SSLObject, name: str, _: ssl.SSLContext) -> None:
        server.sni = name

    context.sni_callback = remember_sni
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def settings(ca: trustme.CA) -> FetchSettings:
    """Admit secure.test, pinned to 127.0.0.2, trusting only the test CA."""
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)  # pyright: ignore[reportUnknownMemberType]
    return FetchSettings(
        allowlist=Allowlist.parse(["secure.test"]),
        networks=(parse_network(f"{SITE_HOST}/32"),),
        resolver=StaticResolver({"secure.test": (ip_address(SITE_HOST),)}, fallback=None),
        ssl_context=client_context,
        timeout=5.0,
    )


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def fetch(url: str, config: FetchSettings) -> CallToolResult:
    """Call fetchText once on a fresh server."""
    async with Client(build_server(config)) as client:
        return await client.call_tool("fetchText", {"url": url})


async def test_https_to_a_pinned_address_verifies_the_certificate_of_the_name(
    ca: trustme.CA,
) -> None:
    with https_site(ca, "secure.test") as port:
        result = await fetch(f"https://secure.test:{port}/", settings(ca))

        assert not result.is_error, text_of(result)
        assert text_of(result) == f"hello over tls to secure.test:{port} (sni secure.test)"


async def test_a_certificate_for_another_name_is_refused(ca: trustme.CA) -> None:
    with https_site(ca, "other.test") as port:
        result = await fetch(f"https://secure.test:{port}/", settings(ca))

        assert result.is_error
        assert "CERTIFICATE_VERIFY_FAILED" in text_of(result)
