"""Fetching one text document over http(s), hop by hop, inside the allowlist.

Redirects are never followed by the HTTP client: each `Location` is resolved here and checked
like the first URL (scheme, no credentials, host syntax, port, allowlist) before the next
request is sent, and every connection, first or after a redirect, goes through the
`GuardedTransport`, which checks the resolved address and connects to it (see `connector`).
The whole fetch, name resolution and redirects included, runs under one deadline, so a server
that drips bytes slowly cannot hold a call open past it. Bodies are read up to the byte limit
and cut there.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from ssl import SSLContext

import anyio
import anyio.to_thread
import httpx2

from micro_mcp.services.http.addresses import AddressPolicy, IPNetwork
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.body import ACCEPT_ENCODING, charset_of, decode, read_body
from micro_mcp.services.http.connector import (
    AddressGuard,
    GuardedTransport,
    default_ssl_context,
)
from micro_mcp.services.http.errors import FetchError
from micro_mcp.services.http.host import literal_address, normalize_host
from micro_mcp.services.http.html_markdown import html_to_markdown
from micro_mcp.services.http.resolver import Resolver, SystemResolver

DEFAULT_MAX_BYTES = 1024 * 1024
"""Most body bytes read per fetch unless configured otherwise; the rest is cut."""

DEFAULT_TIMEOUT = 10.0
"""Seconds allowed for a whole fetch, redirects included, unless configured otherwise."""

DEFAULT_MAX_REDIRECTS = 5
"""Redirect hops followed per fetch unless configured otherwise."""

_SCHEMES = frozenset({"http", "https"})

_TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript"}
)
"""Media types outside `text/*` that are still text."""

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_HEADERS = {
    "User-Agent": "micro-mcp-http/0.1 (+https://modelcontextprotocol.io)",
    "Accept": "text/html, text/plain;q=0.9, application/json;q=0.8, */*;q=0.1",
    "Accept-Encoding": ACCEPT_ENCODING,
}

_MAX_PORT = 65535


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """Everything that bounds what the service fetches: hosts, addresses, sizes, time."""

    allowlist: Allowlist
    networks: tuple[IPNetwork, ...] = ()
    """Networks connected to even though they are internal (`--allow-net`)."""
    resolver: Resolver = field(default_factory=SystemResolver)
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    max_redirects: int = DEFAULT_MAX_REDIRECTS
    ssl_context: SSLContext | None = None
    """Certificates to trust; None means the system's default trust store."""

    def address_policy(self) -> AddressPolicy:
        """The address policy: allowed networks, plus the allowlist's IP literals."""
        return AddressPolicy(networks=self.networks, literals=self.allowlist.literals)


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched document as text; HTML has been turned into Markdown."""

    url: str
    status: int
    content_type: str
    title: str | None
    text: str
    truncated: bool


def checked_url(url: str, allowlist: Allowlist, *, redirect: bool = False) -> httpx2.URL:
    """Parse `url` and admit it only if it is a plain http(s) URL to an allowlisted host.

    Raises:
        FetchError: The URL is malformed, not http(s), carries credentials, has a bad host or
            port, or its host is not allowlisted.
    """
    what = "redirect target" if redirect else "URL"
    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, UnicodeError) as exc:
        raise FetchError(f"invalid {what} {url!r}") from exc
    if parsed.scheme not in _SCHEMES:
        raise FetchError(
            f"{what} scheme {parsed.scheme or '(none)'!r} refused: only http and https are allowed"
        )
    host = normalize_host(parsed)
    if not host:
        raise FetchError(f"{what} {url!r} has no host")
    if parsed.userinfo:
        # `http://allowed.com@10.0.0.1/` reads as a host to people and as credentials to
        # parsers; no fetch needs credentials in the URL, so none is sent anywhere.
        raise FetchError(f"{what} {url!r} carries credentials (user@host); refused")
    if parsed.port is not None and not 0 < parsed.port <= _MAX_PORT:
        raise FetchError(f"{what} port {parsed.port} is out of range")
    try:
        literal_address(host)  # only for its refusal of numeric forms and malformed names
    except FetchError as exc:
        raise FetchError(f"{what} {exc}") from None
    if not allowlist.allows(parsed):
        hint = "" if allowlist else " (the allowlist is empty: set ALLOWLIST or --allow)"
        raise FetchError(f"{what} host {host!r} is not on the allowlist{hint}")
    return parsed


async def fetch_text(url: str, settings: FetchSettings, *, max_bytes: int | None = None) -> Page:
    """Fetch `url` as text, following at most `settings.max_redirects` checked redirects.

    Raises:
        FetchError: The URL, a redirect or an address is refused, the request fails or times
            out, the status is not 2xx, or the content type is not text.
    """
    limit = settings.max_bytes if max_bytes is None else min(max_bytes, settings.max_bytes)
    target = checked_url(url, settings.allowlist)
    guard = AddressGuard(settings.address_policy(), settings.resolver)
    transport = GuardedTransport(guard, settings.ssl_context or default_ssl_context())
    with _translated_errors(url, settings.timeout), anyio.fail_after(settings.timeout):
        async with httpx2.AsyncClient(
            transport=transport, headers=_HEADERS, timeout=settings.timeout, trust_env=False
        ) as client:
            for _ in range(settings.max_redirects + 1):
                async with client.stream("GET", target) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location is not None:
                        joined = _joined(target, location)
                        target = checked_url(joined, settings.allowlist, redirect=True)
                        continue
                    page = await _read(response, limit)
                    break
            else:
                raise FetchError(
                    f"too many redirects (more than {settings.max_redirects}) from {url!r}"
                )
    if page.content_type in _HTML_TYPES:
        # Parsing a large page takes a while; a worker thread keeps other calls moving.
        document = await anyio.to_thread.run_sync(html_to_markdown, page.text, page.url)
        return replace(page, title=document.title, text=document.markdown)
    return page


def _joined(base: httpx2.URL, location: str) -> str:
    try:
        return str(base.join(location))
    except (httpx2.InvalidURL, UnicodeError) as exc:
        raise FetchError(f"invalid redirect target {location!r}") from exc


async def _read(response: httpx2.Response, max_bytes: int) -> Page:
    url = str(response.url)
    if not response.is_success:
        raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} from {url!r}")
    header = response.headers.get("content-type", "")
    media_type = header.split(";", 1)[0].strip().lower()
    if not _is_text(media_type):
        shown = media_type or "none given"
        raise FetchError(f"content type {shown!r} of {url!r} is not text; only text is fetched")
    body, truncated = await read_body(response, max_bytes)
    charset = charset_of(body, response.charset_encoding, media_type)
    return Page(
        url=url,
        status=response.status_code,
        content_type=media_type,
        title=None,
        text=decode(body, charset, truncated=truncated),
        truncated=truncated,
    )


def _is_text(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


@contextmanager
def _translated_errors(url: str, timeout: float) -> Generator[None, None, None]:
    """Turn transport failures into `FetchError`s that name the URL the caller gave."""
    try:
        yield
    except (TimeoutError, httpx2.TimeoutException) as exc:
        raise FetchError(f"fetching {url!r} timed out after {timeout:g} s") from exc
    except httpx2.HTTPError as exc:
        raise FetchError(f"fetching {url!r} failed: {type(exc).__name__}: {exc}") from exc
    except httpx2.InvalidURL as exc:
        raise FetchError(f"fetching {url!r} failed: invalid URL") from exc
