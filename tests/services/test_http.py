"""Contract tests of the http service, in memory through a real SDK client.

Fetches go to a stdlib HTTP server on 127.0.0.2 (see `http_sites`), reached by the name
`site.test` through a static resolver and an explicitly allowed network; nothing leaves the
machine and no outside DNS is asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from micro_mcp.services.http.addresses import parse_network
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.fetcher import DEFAULT_MAX_BYTES, FetchSettings
from micro_mcp.services.http.resolver import StaticResolver
from micro_mcp.services.http.server import build_server
from tests.services.http_sites import BOMB_SIZE, SITE_HOST, site

pytestmark = pytest.mark.anyio


@pytest.fixture
def base_url() -> Iterator[str]:
    """Base URL of the test site, by name."""
    with site() as server:
        yield f"http://site.test:{server.server_address[1]}"


def settings(allow: list[str] | None = None, **limits: Any) -> FetchSettings:
    """Admit site.test (pinned to 127.0.0.2, whose /32 is explicitly allowed)."""
    return FetchSettings(
        allowlist=Allowlist.parse(["site.test"] if allow is None else allow),
        networks=(parse_network(f"{SITE_HOST}/32"),),
        resolver=StaticResolver({"site.test": (ip_address(SITE_HOST),)}, fallback=None),
        **limits,
    )


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def fetch(url: str, config: FetchSettings | None = None, **args: Any) -> CallToolResult:
    """Call fetchText once on a fresh server."""
    async with Client(build_server(config or settings())) as client:
        return await client.call_tool("fetchText", {"url": url, **args})


async def test_list_tools_declares_fetch_text_with_exact_schemas() -> None:
    async with Client(build_server(settings(max_bytes=4096))) as client:
        [tool] = (await client.list_tools()).tools

    assert tool.name == "fetchText"
    assert tool.annotations is not None and tool.annotations.read_only_hint is True
    schema = tool.input_schema
    assert schema["required"] == ["url"]
    assert schema["properties"]["url"]["type"] == "string"
    assert schema["properties"]["maxBytes"]["anyOf"][0] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 4096,
    }
    assert tool.output_schema is not None
    assert tool.output_schema["additionalProperties"] is False
    assert tool.output_schema["required"] == [
        "url", "status", "contentType", "title", "text", "truncated"
    ]  # fmt: skip
    types = {name: prop.get("type") for name, prop in tool.output_schema["properties"].items()}
    assert types == {
        "url": "string",
        "status": "integer",
        "contentType": "string",
        "title": None,  # anyOf string | null
        "text": "string",
        "truncated": "boolean",
    }


async def test_fetches_plain_text_with_structured_content(base_url: str) -> None:
    result = await fetch(f"{base_url}/plain")

    assert not result.is_error, text_of(result)
    assert text_of(result) == "héllo plain\n"
    assert result.structured_content == {
        "url": f"{base_url}/plain",
        "status": 200,
        "contentType": "text/plain",
        "title": None,
        "text": "héllo plain\n",
        "truncated": False,
    }


async def test_html_becomes_markdown_with_absolute_links_and_a_title(base_url: str) -> None:
    result = await fetch(f"{base_url}/page.html")

    assert not result.is_error, text_of(result)
    assert text_of(result) == (
        "# Welcome\n\n"
        f"First & **only** paragraph, with\n[a link]({base_url}/plain) and a script link.\n\n"
        "- one\n- two\n\n```\n  keep\n   this\n```"
    )
    assert result.structured_content is not None
    assert result.structured_content["title"] == "Test page"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/latin1", "café"),  # charset from the header
        ("/meta-charset.html", "naïve"),  # charset from <meta>, cp1252 bytes
        ("/bogus-charset", "ok ✓"),  # "hex" is not a text encoding: UTF-8 is used
        ("/data.json", '{"ok": true}'),
        ("/feed.xml", "<feed>hi</feed>"),  # +xml types are text
        ("/gzip.txt", "compressed text"),
    ],
)
async def test_text_is_decoded_by_its_declared_charset_and_encoding(
    base_url: str, path: str, text: str
) -> None:
    result = await fetch(f"{base_url}{path}")

    assert not result.is_error, text_of(result)
    assert text_of(result) == text


async def test_body_is_cut_at_max_bytes(base_url: str) -> None:
    result = await fetch(f"{base_url}/big", maxBytes=100)

    assert text_of(result) == "x" * 100
    assert result.structured_content is not None
    assert result.structured_content["truncated"] is True


async def test_a_character_cut_in_half_is_dropped_not_garbled(base_url: str) -> None:
    result = await fetch(f"{base_url}/utf8-cut", maxBytes=2)  # "a" and half of "é"

    assert text_of(result) == "a"


async def test_a_gzip_bomb_is_decompressed_only_up_to_the_limit(base_url: str) -> None:
    result = await fetch(f"{base_url}/bomb.txt", settings(max_bytes=1000))

    assert not result.is_error, text_of(result)
    assert text_of(result) == "\0" * 1000
    assert result.structured_content is not None
    assert result.structured_content["truncated"] is True
    assert BOMB_SIZE > 1000


async def test_requests_name_the_host_and_only_decodable_encodings(base_url: str) -> None:
    result = await fetch(f"{base_url}/echo-host")

    assert text_of(result) == f"{base_url.removeprefix('http://')} gzip, deflate"


async def test_allowlisted_redirects_are_followed_hop_by_hop(base_url: str) -> None:
    result = await fetch(f"{base_url}/to-to-plain")

    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert result.structured_content["url"] == f"{base_url}/plain"


async def test_an_ip_literal_on_the_allowlist_is_fetched_without_a_network_rule() -> None:
    with site() as server:
        url = f"http://{SITE_HOST}:{server.server_address[1]}/plain"
        literal_only = FetchSettings(allowlist=Allowlist.parse([SITE_HOST]))

        result = await fetch(url, literal_only)

    assert not result.is_error, text_of(result)
    assert text_of(result) == "héllo plain\n"


@pytest.mark.parametrize(
    ("path", "config", "message"),
    [
        ("/redirect?to=http://evil.example/", {}, "redirect target host 'evil.example' is not"),
        ("/redirect?to=ftp://site.test/", {}, "redirect target scheme 'ftp' refused"),
        ("/loop", {}, "too many redirects (more than 5)"),
        ("/to-plain", {"max_redirects": 0}, "too many redirects (more than 0)"),
        ("/to-nowhere", {}, "invalid redirect target"),
        ("/missing", {}, "HTTP 404 Not Found"),
        ("/image.png", {}, "content type 'image/png'"),
        ("/untyped", {}, "content type 'none given'"),
        ("/brotli.txt", {}, "content encoding 'br' is not supported"),
        ("/corrupt.gz", {}, "not valid gzip data"),
        ("/hang", {"timeout": 0.2}, "timed out after 0.2 s"),
    ],
)
async def test_failed_fetches_are_tool_errors_that_say_why(
    base_url: str, path: str, config: dict[str, Any], message: str
) -> None:
    result = await fetch(f"{base_url}{path}", settings(**config))

    assert result.is_error
    assert result.structured_content is None
    assert message in text_of(result)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.com/", "URL host 'example.com' is not on the allowlist"),
        ("https://sub.site.test/", "URL host 'sub.site.test' is not on the allowlist"),
        ("file:///etc/passwd", "scheme 'file' refused: only http and https"),
        ("not a url", "scheme '(none)' refused"),
        ("http:///nohost", "has no host"),
        ("http://user@site.test/", "carries credentials"),
        ("http://site.test:99999/", "port 99999 is out of range"),
        ("http://site..test/", "is not a valid DNS name"),
        ("http://1.2.3.4.5/", "numeric form"),
    ],
)
async def test_disallowed_urls_are_refused_before_any_request(url: str, message: str) -> None:
    result = await fetch(url)

    assert result.is_error
    assert message in text_of(result)


async def test_empty_allowlist_refuses_with_a_hint() -> None:
    result = await fetch("http://site.test/", settings(allow=[]))

    assert result.is_error
    assert "allowlist is empty" in text_of(result)


async def test_connection_refused_is_an_error() -> None:
    with site() as server:
        port = server.server_address[1]
    # The site is gone: nothing listens on its port any more.

    result = await fetch(f"http://site.test:{port}/")

    assert result.is_error
    assert "failed: ConnectError" in text_of(result)


@pytest.mark.parametrize(
    "args",
    [
        {},
        {"url": 5},
        {"url": "http://site.test/", "maxBytes": 0},
        {"url": "http://site.test/", "maxBytes": DEFAULT_MAX_BYTES + 1},
        {"url": "http://site.test/", "maxBytes": "ten"},
    ],
)
async def test_arguments_outside_the_input_schema_are_tool_errors(args: dict[str, Any]) -> None:
    async with Client(build_server(settings())) as client:
        result = await client.call_tool("fetchText", args)

    assert result.is_error
    assert "validation error" in text_of(result)
