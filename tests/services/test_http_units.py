"""Unit tests of the http service's parts: address policy, host forms, allowlist, config, body."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Sequence
from ipaddress import IPv4Address, ip_address
from pathlib import Path
from ssl import SSLContext

import httpx2
import pytest

from micro_mcp.services.http.addresses import AddressPolicy, parse_network
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.body import charset_of, read_body
from micro_mcp.services.http.config import parse_config
from micro_mcp.services.http.connector import AddressGuard, GuardedTransport, default_ssl_context
from micro_mcp.services.http.errors import AddressRefused, FetchError
from micro_mcp.services.http.host import IPAddress, literal_address
from micro_mcp.services.http.html_markdown import html_to_markdown
from micro_mcp.services.http.resolver import StaticResolver

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local (cloud metadata)"),
        ("100.64.0.1", "shared address space (CGNAT)"),
        ("100.127.255.255", "shared address space (CGNAT)"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.170", "IETF protocol assignments"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("192.88.99.1", "6to4 relay anycast"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::127.0.0.1", "IPv4-compatible"),
        ("64:ff9b::7f00:1", "embeds 127.0.0.1, which is loopback"),
        ("64:ff9b::a9fe:a9fe", "embeds 169.254.169.254, which is link-local"),
        ("2002:7f00:1::", "embeds 127.0.0.1, which is loopback"),
        ("2002:c0a8:101::1", "embeds 192.168.1.1, which is private"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "IETF protocol assignments (Teredo"),
        ("2001:db8::1", "documentation"),
        ("3fff::1", "documentation"),
        ("100::1", "discard-only"),
        ("fc00::1", "unique local"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("5f00::1", "not global unicast"),
        ("4000::1", "not global unicast"),
    ],
)
def test_internal_addresses_are_refused_with_a_reason(address: str, why: str) -> None:
    refusal = AddressPolicy().refusal(ip_address(address))

    assert refusal is not None and why in refusal


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "1.1.1.1",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",  # NAT64 of a public address (DNS64 networks)
        "2002:808:808::1",  # 6to4 of a public address
        "2606:4700:4700::1111",
        "2a00:1450:4001:80b::200e",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressPolicy().refusal(ip_address(address)) is None


def test_allowed_networks_admit_exactly_their_addresses() -> None:
    policy = AddressPolicy(networks=(parse_network("10.1.2.0/24"), parse_network("fd00::/8")))

    assert policy.refusal(ip_address("10.1.2.3")) is None
    assert policy.refusal(ip_address("::ffff:10.1.2.3")) is None
    assert policy.refusal(ip_address("fd00::5")) is None
    assert policy.refusal(ip_address("10.1.3.1")) == "private"
    assert policy.refusal(ip_address("127.0.0.1")) == "loopback"


def test_an_allowlisted_literal_counts_only_when_the_url_spells_it() -> None:
    policy = AddressPolicy(literals=frozenset({ip_address("127.0.0.1")}))

    assert policy.refusal(ip_address("127.0.0.1"), literal=True) is None
    assert policy.refusal(ip_address("127.0.0.1"), literal=False) == "loopback"
    assert policy.refusal(ip_address("127.0.0.2"), literal=True) == "loopback"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", None),
        ("a-b.example_c.org", None),
        ("xn--mnchen-3ya.de", None),
        ("0x7f.example.com", None),  # a number only counts in the last label
        ("127.0.0.1", IPv4Address("127.0.0.1")),
        ("8.8.8.8", IPv4Address("8.8.8.8")),
        ("::1", ip_address("::1")),
    ],
)
def test_literal_address_tells_names_from_canonical_literals(
    host: str, expected: IPAddress | None
) -> None:
    assert literal_address(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "2130706433", "0x7f000001", "0x7f.1", "017700000001", "127.1", "127.0.1", "0",
        "0x", "1.2.3.4.5", "256.0.0.1", "example.123", "1e3.0x10",
        "a..b", ".a", "-a.com", "a-.com", "a%2e.com", "a b.com", "x" * 64 + ".com",
        "fe80::1%eth0", "::ffff:zzzz",
    ],
)  # fmt: skip
def test_numeric_forms_and_malformed_names_are_refused(host: str) -> None:
    with pytest.raises(FetchError):
        literal_address(host)


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
        ("[0:0:0:0:0:0:0:1]", True),
        ("münchen.de", True),
        ("xn--mnchen-3ya.de", True),
        ("p\u0430ypal.com", False),  # a Cyrillic a: another name altogether
    ],
)
def test_allowlist_matches_exact_hosts_and_subdomain_wildcards(host: str, allowed: bool) -> None:
    allowlist = Allowlist.from_env("example.com, *.python.org,::1,MÜNCHEN.de,paypal.com")

    assert allowlist.allows(httpx2.URL(f"https://{host}:8443/path")) is allowed


@pytest.mark.parametrize(
    "entry",
    ["*", "*.", "a.*.com", "example.com/path", "user@host", "h:80", "2130706433", "127.1",
     "*.0.0.1", "*.127.0.0.1", "a%2e.com", "[fe80::1%eth0]"],
)  # fmt: skip
def test_malformed_allowlist_entries_are_rejected(entry: str) -> None:
    with pytest.raises(ValueError, match="allowlist entry"):
        Allowlist.parse([entry])


def test_allowlist_literals_are_its_ip_entries() -> None:
    allowlist = Allowlist.parse(["example.com", "127.0.0.1", "[::1]", "*.example.org"])

    assert allowlist.literals == {ip_address("127.0.0.1"), ip_address("::1")}


def test_config_combines_env_flags_networks_and_pins(tmp_path: Path) -> None:
    config = parse_config(
        [
            "--allow", "b.org", "--allow", "*.c.org",
            "--allow-net", "10.1.0.0/16", "--allow-net", "fd00::/8",
            "--resolve", "b.org=10.1.2.3", "--resolve", "b.org=[fd00::3]",
            "--max-bytes", "100", "--timeout", "2.5", "--max-redirects", "0",
        ],
        {"ALLOWLIST": "a.org"},
    )  # fmt: skip

    settings = config.settings
    assert settings.allowlist == Allowlist(
        exact=frozenset({"a.org", "b.org"}), suffixes=frozenset({"c.org"})
    )
    assert settings.networks == (parse_network("10.1.0.0/16"), parse_network("fd00::/8"))
    assert isinstance(settings.resolver, StaticResolver)
    assert settings.resolver.table == {"b.org": (ip_address("10.1.2.3"), ip_address("fd00::3"))}
    assert (settings.max_bytes, settings.timeout, settings.max_redirects) == (100, 2.5, 0)
    assert not config.http


def test_a_missing_ca_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        parse_config(["--ca-file", str(tmp_path / "none.pem")], {})

    assert stop.value.code == 2


class _Recorder(httpx2.AsyncBaseTransport):
    """A transport that records what it was asked to send, and where, and always fails."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int | None, str, object]] = []
        self.pools = 0

    def pool(self, ssl_context: SSLContext) -> httpx2.AsyncBaseTransport:
        self.pools += 1
        return self

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        host = request.url.host
        self.attempts.append(
            (host, request.url.port, request.headers["host"], request.extensions["sni_hostname"])
        )
        raise httpx2.ConnectError("refused", request=request)


def guarded(table: dict[str, Sequence[str]], recorder: _Recorder, **allow: str) -> GuardedTransport:
    networks = tuple(parse_network(cidr) for cidr in allow.values())
    resolver = StaticResolver(
        {host: tuple(ip_address(a) for a in addresses) for host, addresses in table.items()},
        fallback=None,
    )
    guard = AddressGuard(AddressPolicy(networks=networks), resolver)
    return GuardedTransport(guard, default_ssl_context(), recorder.pool)


async def test_requests_go_to_each_checked_address_in_turn_with_the_name_kept_for_tls() -> None:
    recorder = _Recorder()
    transport = guarded({"two.test": ["8.8.8.8", "2606:4700::1"]}, recorder)
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx2.ConnectError):
            await client.get("https://Two.Test./page")

    assert recorder.attempts == [
        ("8.8.8.8", None, "two.test.", "two.test"),
        ("2606:4700::1", None, "two.test.", "two.test"),
    ]


async def test_one_internal_address_refuses_the_whole_host_before_any_connection() -> None:
    recorder = _Recorder()
    transport = guarded({"mixed.test": ["8.8.8.8", "10.0.0.1"]}, recorder)
    async with httpx2.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused, match=r"resolves to 10\.0\.0\.1, which is private"):
            await client.get("http://mixed.test/")

    assert recorder.attempts == []


async def test_each_host_name_gets_connections_of_its_own_even_on_a_shared_address() -> None:
    recorder = _Recorder()
    transport = guarded({"a.test": ["8.8.8.8"], "b.test": ["8.8.8.8"]}, recorder)
    async with httpx2.AsyncClient(transport=transport) as client:
        for url in ("https://a.test/", "https://b.test/", "https://a.test/again"):
            with pytest.raises(httpx2.ConnectError):
                await client.get(url)

    assert recorder.pools == 2
    assert [sni for *_, sni in recorder.attempts] == ["a.test", "b.test", "a.test"]


class _Chunks(httpx2.AsyncByteStream):
    """A response body arriving in small network chunks."""

    def __init__(self, body: bytes, size: int = 7) -> None:
        self._chunks = [body[i : i + size] for i in range(0, len(body), size)]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def response(body: bytes, encoding: str | None = None) -> httpx2.Response:
    headers = {"Content-Encoding": encoding} if encoding else {}
    return httpx2.Response(200, headers=headers, stream=_Chunks(body))


@pytest.mark.parametrize(
    ("encoded", "coding"),
    [
        (gzip.compress(b"hello world"), "gzip"),
        (gzip.compress(b"hello ") + gzip.compress(b"world"), "x-gzip"),  # two members
        (zlib.compress(b"hello world"), "deflate"),
        (zlib.compress(b"hello world")[2:-4], "deflate"),  # raw deflate, no zlib wrapper
        (b"hello world", "identity"),
    ],
)
async def test_bodies_are_decoded_by_their_content_coding(encoded: bytes, coding: str) -> None:
    assert await read_body(response(encoded, coding), 1000) == (b"hello world", False)


async def test_decompression_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)

    body, truncated = await read_body(response(bomb, "gzip"), 4096)

    assert (len(body), truncated) == (4096, True)


async def test_a_body_exactly_at_the_limit_is_not_truncated() -> None:
    assert await read_body(response(b"x" * 10), 10) == (b"x" * 10, False)


@pytest.mark.parametrize(
    ("body", "declared", "media_type", "charset"),
    [
        (b"\xef\xbb\xbfhi", "latin-1", "text/plain", "utf-8-sig"),  # the BOM wins
        (b"\xff\xfeh\0", None, "text/plain", "utf-16"),
        (b"hi", "iso-8859-2", "text/plain", "iso-8859-2"),
        (b"<meta charset='koi8-r'>", None, "text/html", "koi8-r"),
        (b'<meta http-equiv="Content-Type" content="text/html; charset=big5">', None,
         "text/html", "big5"),
        (b"<meta charset='koi8-r'>", "utf-8", "text/html", "utf-8"),  # the header wins
        (b'<?xml version="1.0" encoding="windows-1251"?><a/>', None, "application/xml",
         "windows-1251"),
        (b"hi", "hex", "text/plain", "utf-8"),  # a bytes-to-bytes codec is no charset
        (b"hi", "no-such-charset", "text/plain", "utf-8"),
        (b"<meta charset='rot13'>", None, "text/html", "utf-8"),
    ],
)  # fmt: skip
def test_charset_comes_from_bom_header_or_document(
    body: bytes, declared: str | None, media_type: str, charset: str
) -> None:
    assert charset_of(body, declared, media_type) == charset


def test_markdown_keeps_structure_and_drops_what_is_not_text() -> None:
    html = """<html><head><title>T</title><script>alert(1)</script></head><body>
    <h2>Sub</h2><p>see <a href="../doc?x=1">docs</a>, <a href="mailto:a@b.c">mail</a>,
    <a href="data:text/html,hi">data</a> and <a href="https://other.example/">out</a>.</p>
    <img src="data:image/png;base64,AAAA" alt="pixel"><iframe src="x">frame</iframe>
    <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
    <form><input value="secret"><button>Go</button></form><p>my_var * 2</p></body></html>"""

    document = html_to_markdown(html, "https://site.example/a/b/page")

    assert document.title == "T"
    assert document.markdown == (
        "## Sub\n\nsee [docs](https://site.example/a/doc?x=1), mail,\ndata and "
        "[out](https://other.example/).\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\nmy_var * 2"
    )


def test_a_page_without_title_or_body_gives_empty_markdown() -> None:
    assert html_to_markdown("<!doctype html>", "http://x/").title is None
    assert html_to_markdown("<!doctype html>", "http://x/").markdown == ""
