"""Contract tests of the http service, in memory through the SDK client.

Fetches go to a stdlib HTTP server on 127.0.0.1 started per test; nothing leaves the machine.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.config import parse_config
from micro_mcp.services.http.html_text import html_to_text
from micro_mcp.services.http.server import build_server

pytestmark = pytest.mark.anyio

PAGE = """<!doctype html><html><head><title>Test page</title>
<style>body { color: red }</style><script>document.write("<p>hidden</p>")</script></head>
<body><h1>Welcome</h1><p>First &amp; <b>only</b>
paragraph.</p><ul><li>one</li><li>two</li></ul></body></html>"""

# path -> (status, headers, body)
ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/plain": (200, {"Content-Type": "text/plain; charset=utf-8"}, "héllo plain\n".encode()),
    "/latin1": (200, {"Content-Type": "text/plain; charset=iso-8859-1"}, "café".encode("latin-1")),
    "/page.html": (200, {"Content-Type": "text/html; charset=utf-8"}, PAGE.encode()),
    "/data.json": (200, {"Content-Type": "application/json"}, b'{"ok": true}'),
    "/image.png": (200, {"Content-Type": "image/png"}, b"\x89PNG\r\n\x1a\n"),
    "/untyped": (200, {}, b"no content type"),
    "/big": (200, {"Content-Type": "text/plain"}, b"x" * 5000),
    "/missing": (404, {"Content-Type": "text/plain"}, b"not here"),
    "/to-plain": (302, {"Location": "/plain"}, b""),
    "/to-to-plain": (301, {"Location": "/to-plain"}, b""),
    "/to-evil": (302, {"Location": "http://evil.example/steal"}, b""),
    "/to-localhost": (307, {"Location": "/plain"}, b""),  # Location rewritten per server below
    "/to-ftp": (302, {"Location": "ftp://127.0.0.1/file"}, b""),
    "/loop": (302, {"Location": "/loop"}, b""),
}


RELEASE_HANGING = threading.Event()
"""Set at server shutdown to release handlers of `/hang`, which never answer before it."""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/hang":
            RELEASE_HANGING.wait()
            return
        status, headers, body = ROUTES.get(self.path, (404, {}, b""))
        if self.path == "/to-localhost":
            port = self.headers["Host"].rsplit(":", 1)[1]
            headers = {"Location": f"http://localhost:{port}/plain"}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def base_url() -> Iterator[str]:
    """URL of a local HTTP server serving ROUTES, shut down after the test."""
    RELEASE_HANGING.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    # A short poll interval only makes shutdown() return sooner; nothing waits on it.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        RELEASE_HANGING.set()
        server.shutdown()
        server.server_close()
        thread.join()


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def fetch(
    url: str, allow: list[str] | None = None, config: dict[str, Any] | None = None, **args: Any
) -> CallToolResult:
    """Call fetchText once on a fresh server admitting `allow` (default: 127.0.0.1)."""
    server = build_server(["127.0.0.1"] if allow is None else allow, **(config or {}))
    async with Client(server) as client:
        return await client.call_tool("fetchText", {"url": url, **args})


async def test_list_tools_declares_fetch_text_and_its_schemas() -> None:
    async with Client(build_server()) as client:
        [tool] = (await client.list_tools()).tools

    assert tool.name == "fetchText"
    assert set(tool.input_schema["properties"]) == {"url", "maxBytes"}
    assert tool.input_schema["required"] == ["url"]
    assert tool.output_schema is not None
    assert set(tool.output_schema["properties"]) == {
        "url", "status", "contentType", "text", "truncated"
    }  # fmt: skip


async def test_fetches_plain_text(base_url: str) -> None:
    result = await fetch(f"{base_url}/plain")

    assert not result.is_error
    assert text_of(result) == "héllo plain\n"
    assert result.structured_content == {
        "url": f"{base_url}/plain",
        "status": 200,
        "contentType": "text/plain",
        "text": "héllo plain\n",
        "truncated": False,
    }


async def test_html_is_converted_to_readable_text(base_url: str) -> None:
    result = await fetch(f"{base_url}/page.html")

    assert not result.is_error
    assert text_of(result) == "Test page\n\n# Welcome\n\nFirst & only paragraph.\n\n- one\n- two"


async def test_declared_charset_is_used_and_json_counts_as_text(base_url: str) -> None:
    latin = await fetch(f"{base_url}/latin1")
    data = await fetch(f"{base_url}/data.json")

    assert text_of(latin) == "café"
    assert text_of(data) == '{"ok": true}'


async def test_body_is_cut_at_max_bytes(base_url: str) -> None:
    result = await fetch(f"{base_url}/big", maxBytes=100)

    assert not result.is_error
    assert text_of(result) == "x" * 100
    assert result.structured_content is not None
    assert result.structured_content["truncated"] is True


async def test_allowlisted_redirects_are_followed_hop_by_hop(base_url: str) -> None:
    result = await fetch(f"{base_url}/to-to-plain")

    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["url"] == f"{base_url}/plain"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/to-evil", "redirect target host 'evil.example' is not on the allowlist"),
        ("/to-localhost", "redirect target host 'localhost' is not on the allowlist"),
        ("/to-ftp", "redirect target scheme 'ftp' refused"),
        ("/loop", "too many redirects (more than 5)"),
    ],
)
async def test_refused_redirects_are_errors(base_url: str, path: str, message: str) -> None:
    result = await fetch(f"{base_url}{path}")

    assert result.is_error
    assert message in text_of(result)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "host 'example.com' is not on the allowlist"),
        ("http://127.0.0.2/", "host '127.0.0.2' is not on the allowlist"),
        ("file:///etc/passwd", "scheme 'file' refused: only http and https"),
        ("ftp://127.0.0.1/x", "scheme 'ftp' refused"),
        ("gopher://127.0.0.1/", "scheme 'gopher' refused"),
        ("not a url", "scheme '(none)' refused"),
        ("http:///nohost", "has no host"),
    ],
)
async def test_disallowed_urls_are_refused_before_any_request(url: str, message: str) -> None:
    result = await fetch(url)

    assert result.is_error
    assert message in text_of(result)


async def test_empty_allowlist_refuses_with_a_hint() -> None:
    result = await fetch("http://127.0.0.1/", allow=[])

    assert result.is_error
    assert "allowlist is empty" in text_of(result)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/image.png", "content type 'image/png'"),
        ("/untyped", "content type 'none given'"),
        ("/missing", "HTTP 404 Not Found"),
    ],
)
async def test_non_text_or_failed_responses_are_errors(
    base_url: str, path: str, message: str
) -> None:
    result = await fetch(f"{base_url}{path}")

    assert result.is_error
    assert message in text_of(result)


async def test_connection_failure_is_an_error() -> None:
    # A port that was just free and has no listener refuses the connection.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    result = await fetch(f"http://127.0.0.1:{port}/")

    assert result.is_error
    assert "failed: ConnectError" in text_of(result)


async def test_server_that_never_answers_times_out(base_url: str) -> None:
    result = await fetch(f"{base_url}/hang", config={"timeout": 0.1})

    assert result.is_error
    assert "timed out after 0.1 s" in text_of(result)


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("example.com", True),
        ("EXAMPLE.com.", True),
        ("www.example.com", False),
        ("docs.python.org", True),
        ("a.b.python.org", True),
        ("python.org", False),
        ("evilpython.org", False),
        ("python.org.evil.net", False),
        ("[::1]", True),
        ("münchen.de", True),
    ],
)
def test_allowlist_matches_exact_hosts_and_subdomain_wildcards(host: str, allowed: bool) -> None:
    allowlist = Allowlist.from_env("example.com, *.python.org,[::1],MÜNCHEN.de")

    assert allowlist.allows(httpx2.URL(f"https://{host}:8443/path")) is allowed


@pytest.mark.parametrize("entry", ["*", "*.", "a.*.com", "example.com/path", "user@host", "h:80"])
def test_malformed_allowlist_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry"):
        Allowlist.parse([entry])


def test_allowlist_is_env_plus_flags() -> None:
    config = parse_config(["--allow", "b.org", "--allow", "*.c.org"], {"ALLOWLIST": "a.org"})

    assert config.allowlist == Allowlist(
        exact=frozenset({"a.org", "b.org"}), suffixes=frozenset({"c.org"})
    )


def test_html_to_text_keeps_pre_and_drops_scripts() -> None:
    html = "<p>a</p><script>x()</script><pre>  two\n   lines</pre><p>b<br>c</p>"

    assert html_to_text(html) == "a\n\n  two\n   lines\n\nb\nc"
