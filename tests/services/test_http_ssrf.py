"""SSRF corpus: attempts to reach an internal listener through fetchText, and none may land.

Every attempt aims at the `Sentinel`, a listener on 127.0.0.1 (and ::1) standing for an
internal service; it records each connection, and every test ends by asserting it recorded
none. The allowlist deliberately admits names that resolve to loopback (`localhost`,
`*.test`), so the address check, not only the allowlist, is what each attempt meets. A real
site on 127.0.0.2 (allowed with an explicit network) provides the redirects and shows that
allowed fetches still work. No name is looked up in outside DNS: `*.test` names come from a
static table and only `localhost` goes to the system resolver (/etc/hosts).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from ipaddress import ip_address
from urllib.parse import quote

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from micro_mcp.services.http.addresses import parse_network
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.errors import FetchError
from micro_mcp.services.http.fetcher import FetchSettings
from micro_mcp.services.http.host import IPAddress
from micro_mcp.services.http.resolver import Resolver, StaticResolver, SystemResolver
from micro_mcp.services.http.server import build_server
from tests.services.http_sites import SITE_HOST, Sentinel, site

pytestmark = pytest.mark.anyio

S = "{S}"
"""Placeholder for the sentinel's port in the corpus below."""

P = "{P}"
"""Placeholder for the test site's port."""

NAMES: dict[str, tuple[str, ...]] = {
    "site.test": (SITE_HOST,),
    "loopback.test": ("127.0.0.1",),
    "loopback6.test": ("::1",),
    "mapped.test": ("::ffff:127.0.0.1",),
    "zero.test": ("0.0.0.0",),
    "xn--mnchen-3ya.test": ("127.0.0.1",),
    "site-then-loopback.test": (SITE_HOST, "127.0.0.1"),
    "loopback-then-site.test": ("127.0.0.1", SITE_HOST),
}
"""The static DNS of the corpus: each name but site.test leads to the sentinel."""

ALLOW = ["site.test", "*.test", "localhost", "*.localhost"]


class HostsFileOnly:
    """The system resolver for `localhost` (answered from /etc/hosts); no other name leaves."""

    async def resolve(self, host: str) -> Sequence[IPAddress]:
        if host != "localhost":
            raise FetchError(f"host {host!r} does not resolve (test resolver)")
        return await SystemResolver().resolve(host)


def settings(resolver: Resolver | None = None, max_redirects: int = 5) -> FetchSettings:
    """The corpus configuration: generous names, one explicitly allowed network (the site)."""
    table = {name: tuple(ip_address(a) for a in addresses) for name, addresses in NAMES.items()}
    return FetchSettings(
        allowlist=Allowlist.parse(ALLOW),
        networks=(parse_network(f"{SITE_HOST}/32"),),
        resolver=resolver or StaticResolver(table, fallback=HostsFileOnly()),
        timeout=5.0,
        max_redirects=max_redirects,
    )


@pytest.fixture
def sentinel() -> Iterator[Sentinel]:
    """The internal listener; the test fails if anything connected to it."""
    with Sentinel() as listener:
        yield listener
        assert listener.hits() == [], "an SSRF attempt reached the internal listener"


@pytest.fixture
def site_port() -> Iterator[int]:
    """The port of the allowed test site on 127.0.0.2."""
    with site() as server:
        yield server.server_address[1]


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


async def fetch(url: str, config: FetchSettings | None = None) -> CallToolResult:
    """Call fetchText once on a fresh server with the corpus settings."""
    async with Client(build_server(config or settings())) as client:
        return await client.call_tool("fetchText", {"url": url})


ALLOWLIST = "not on the allowlist"
NUMERIC = "numeric form that is not a canonical IPv4"
LOOPBACK = "is loopback: connections there are refused"
RESOLVES_LOOPBACK = "which is loopback: connections there are refused"
NO_HOST = "has no host"

DIRECT: list[tuple[str, str]] = [
    # IP literals of loopback in every spelling
    (f"http://127.0.0.1:{S}/", ALLOWLIST),
    (f"http://127.0.0.1.:{S}/", ALLOWLIST),
    (f"http://2130706433:{S}/", NUMERIC),
    (f"http://0x7f000001:{S}/", NUMERIC),
    (f"http://0x7f.1:{S}/", NUMERIC),
    (f"http://0x7F.0x0.0x0.0x1:{S}/", NUMERIC),
    (f"http://017700000001:{S}/", NUMERIC),
    (f"http://0177.0.0.1:{S}/", "invalid URL"),
    (f"http://127.1:{S}/", NUMERIC),
    (f"http://127.0.1:{S}/", NUMERIC),
    (f"http://0:{S}/", NUMERIC),
    (f"http://0.0.0.0:{S}/", ALLOWLIST),
    (f"http://127.0.0.1%2e:{S}/", "not a valid DNS name"),
    (f"http://127.0.0.%31:{S}/", "not a valid DNS name"),
    (f"http://127\u30020\u30020\u30021:{S}/", ALLOWLIST),  # ideographic full stops
    (f"http://[::1]:{S}/", ALLOWLIST),
    (f"http://[0:0:0:0:0:0:0:1]:{S}/", ALLOWLIST),
    (f"http://[::]:{S}/", ALLOWLIST),
    (f"http://[::ffff:127.0.0.1]:{S}/", ALLOWLIST),
    (f"http://[::ffff:7f00:1]:{S}/", ALLOWLIST),
    (f"http://[::1%25lo]:{S}/", "not a valid IPv6 address"),
    # names on the allowlist that resolve to loopback
    (f"http://localhost:{S}/", RESOLVES_LOOPBACK),
    (f"http://LOCALHOST:{S}/", RESOLVES_LOOPBACK),
    (f"http://localhost.:{S}/", RESOLVES_LOOPBACK),
    # IDNA: look-alikes that UTS 46 would map to "localhost" are invalid under IDNA 2008, and
    # the Unicode and punycode forms of one name meet the same allowlist entry and address
    (f"http://\u24db\u24de\u24d2\u24d0\u24db\u24d7\u24de\u24e2\u24e3:{S}/", "invalid URL"),
    (f"http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{S}/", "invalid URL"),
    (f"http://loc\u00adalhost:{S}/", "invalid URL"),
    (f"http://m\u00fcnchen.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://M\u00dcNCHEN.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://xn--mnchen-3ya.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://loopback.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://LoopBack.TEST.:{S}/", RESOLVES_LOOPBACK),
    (f"https://loopback.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://loopback6.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://mapped.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://zero.test:{S}/", "which is unspecified"),
    (f"http://site-then-loopback.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://loopback-then-site.test:{S}/", RESOLVES_LOOPBACK),
    (f"http://loca%6Chost:{S}/", "not a valid DNS name"),
    (f"http://localhost%00.site.test:{S}/", "not a valid DNS name"),
    # userinfo: the host is what follows the last @
    (f"http://site.test@127.0.0.1:{S}/", "carries credentials"),
    (f"http://site.test:{P}@localhost:{S}/", "carries credentials"),
    (f"http://user:pass@loopback.test:{S}/", "carries credentials"),
    (f"http://127.0.0.1:{S}#@site.test:{P}/", ALLOWLIST),
    # ports that wrap around to the sentinel's in a 16-bit field
    (f"http://localhost:{S}0000/", "out of range"),
    ("http://site.test:{S65536}/", "out of range"),
    # other schemes and scheme-less forms
    ("file:///etc/passwd", "scheme 'file' refused"),
    (f"gopher://127.0.0.1:{S}/_GET%20/", "scheme 'gopher' refused"),
    (f"ftp://localhost:{S}/", "scheme 'ftp' refused"),
    (f"dict://localhost:{S}/info", "scheme 'dict' refused"),
    (f"ws://localhost:{S}/", "scheme 'ws' refused"),
    (f"//localhost:{S}/", "scheme '(none)' refused"),
    (f"http:\\\\localhost:{S}\\", NO_HOST),
    (f"http:/localhost:{S}/", NO_HOST),
    (f"localhost:{S}", "scheme 'localhost' refused"),
]

REDIRECTS: list[tuple[str, int, str]] = [
    (f"http://127.0.0.1:{S}/", 302, ALLOWLIST),
    (f"http://localhost:{S}/", 301, RESOLVES_LOOPBACK),
    (f"http://loopback.test:{S}/latest/meta-data/", 307, RESOLVES_LOOPBACK),
    (f"http://loopback6.test:{S}/", 308, RESOLVES_LOOPBACK),
    (f"http://mapped.test:{S}/", 303, RESOLVES_LOOPBACK),
    (f"http://[::1]:{S}/", 302, ALLOWLIST),
    (f"http://[::ffff:127.0.0.1]:{S}/", 302, ALLOWLIST),
    (f"http://2130706433:{S}/", 302, NUMERIC),
    (f"//localhost:{S}/", 302, RESOLVES_LOOPBACK),
    (f"http://site.test@localhost:{S}/", 302, "carries credentials"),
    ("file:///etc/passwd", 302, "scheme 'file' refused"),
    (f"gopher://localhost:{S}/", 302, "scheme 'gopher' refused"),
    (f"http://site-then-loopback.test:{S}/", 302, RESOLVES_LOOPBACK),
]


def _fill(template: str, sentinel: int, site_port: int) -> str:
    return (
        template.replace("{S65536}", str(sentinel + 65536))
        .replace(S, str(sentinel))
        .replace(P, str(site_port))
    )


@pytest.mark.parametrize(("template", "expected"), DIRECT)
async def test_direct_attempts_never_connect(
    sentinel: Sentinel, site_port: int, template: str, expected: str
) -> None:
    result = await fetch(_fill(template, sentinel.port, site_port))

    assert result.is_error, text_of(result)
    assert expected in text_of(result)


@pytest.mark.parametrize(("template", "status", "expected"), REDIRECTS)
async def test_redirects_to_internal_addresses_are_refused_at_the_hop(
    sentinel: Sentinel, site_port: int, template: str, status: int, expected: str
) -> None:
    target = quote(_fill(template, sentinel.port, site_port), safe="")
    url = f"http://site.test:{site_port}/redirect?status={status}&to={target}"

    result = await fetch(url)

    assert result.is_error, text_of(result)
    assert expected in text_of(result)
    assert "redirect target" in text_of(result) or "resolves to" in text_of(result)


async def test_a_chain_of_allowed_redirects_ending_inside_is_refused(
    sentinel: Sentinel, site_port: int
) -> None:
    inner = f"http://loopback.test:{sentinel.port}/"
    middle = f"http://site.test:{site_port}/redirect?to={quote(inner, safe='')}"
    url = f"http://site.test:{site_port}/redirect?to={quote(middle, safe='')}"

    result = await fetch(url)

    assert result.is_error
    assert RESOLVES_LOOPBACK in text_of(result)


async def test_the_allowed_site_is_fetched_by_name_with_its_host_header(
    sentinel: Sentinel, site_port: int
) -> None:
    result = await fetch(f"http://Site.Test.:{site_port}/echo-host")

    assert not result.is_error, text_of(result)
    # The TCP connection went to the pinned 127.0.0.2; the request still names the host.
    assert text_of(result) == f"site.test.:{site_port} gzip, deflate"


async def test_allowed_redirect_between_site_names_is_followed(
    sentinel: Sentinel, site_port: int
) -> None:
    result = await fetch(f"http://site.test:{site_port}/to-to-plain")

    assert not result.is_error, text_of(result)
    assert text_of(result) == "héllo plain\n"


class Rebinding:
    """A DNS that answers the site first and the sentinel ever after (a rebinding attack)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def resolve(self, host: str) -> Sequence[IPAddress]:
        self.calls.append(host)
        return [ip_address(SITE_HOST if len(self.calls) == 1 else "127.0.0.1")]


async def test_the_connection_goes_to_the_address_that_was_checked(
    sentinel: Sentinel, site_port: int
) -> None:
    dns = Rebinding()

    result = await fetch(f"http://rebind.test:{site_port}/plain", settings(resolver=dns))

    assert not result.is_error, text_of(result)
    assert text_of(result) == "héllo plain\n"
    assert dns.calls == ["rebind.test"]  # one lookup: checked and connected on its answer


async def test_a_name_rebinding_between_hops_is_checked_again(
    sentinel: Sentinel, site_port: int
) -> None:
    dns = Rebinding()
    url = f"http://rebind.test:{site_port}/redirect?to=http://other.test:{site_port}/plain"

    result = await fetch(url, settings(resolver=dns))

    assert result.is_error
    assert "host 'other.test' resolves to 127.0.0.1, which is loopback" in text_of(result)
    assert dns.calls == ["rebind.test", "other.test"]


async def test_loopback_is_fetched_when_its_network_is_explicitly_allowed(
    site_port: int,
) -> None:
    allowed = FetchSettings(
        allowlist=Allowlist.parse(["localhost"]),
        networks=(parse_network("127.0.0.0/8"),),
        resolver=StaticResolver({"localhost": (ip_address(SITE_HOST),)}, fallback=None),
    )

    result = await fetch(f"http://localhost:{site_port}/plain", allowed)

    assert not result.is_error, text_of(result)
    assert text_of(result) == "héllo plain\n"


def test_the_corpus_has_at_least_forty_attempts() -> None:
    assert len(DIRECT) + len(REDIRECTS) >= 40


@pytest.mark.parametrize("name", ["loopback.test", "loopback6.test"])
async def test_the_sentinel_records_what_reaches_it(name: str) -> None:
    # The check on the sentinel itself: with loopback explicitly allowed, the same attempt
    # lands, and the sentinel must see it (or every zero above would prove nothing).
    opened = FetchSettings(
        allowlist=Allowlist.parse(ALLOW),
        networks=(parse_network("127.0.0.0/8"), parse_network("::1/128")),
        resolver=settings().resolver,
        timeout=5.0,
    )
    with Sentinel() as listener:
        result = await fetch(f"http://{name}:{listener.port}/", opened)
        hits = listener.hits()

    assert result.is_error  # the sentinel closes without answering
    assert len(hits) == 1
