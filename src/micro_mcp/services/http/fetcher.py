"""Fetching one text document over http(s), hop by hop, inside the allowlist.

Redirects are never followed by the HTTP client: each `Location` is resolved here and its
scheme and host checked against the allowlist before the next request is sent. The whole
fetch, redirects included, runs under one deadline, so a server that drips bytes slowly
cannot hold a call open past it. Bodies are read only up to the byte limit and then cut.

This module does not yet defend against SSRF through DNS (an allowlisted name that resolves
to a private address); that hardening is planned separately.
"""

from __future__ import annotations

import codecs
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import httpx2

from micro_mcp.services.http.allowlist import Allowlist, normalize_host
from micro_mcp.services.http.html_text import html_to_text

_SCHEMES = frozenset({"http", "https"})

_TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript"}
)
"""Media types outside `text/*` that are still text."""

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_HEADERS = {
    "User-Agent": "micro-mcp-http/0.1 (+https://modelcontextprotocol.io)",
    "Accept": "text/html, text/plain;q=0.9, application/json;q=0.8, */*;q=0.1",
}


class FetchError(Exception):
    """A refused or failed fetch; the message is safe to show to the client."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Bounds on one fetch."""

    max_bytes: int
    timeout: float
    max_redirects: int


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched document as text; HTML has already been turned into readable text."""

    url: str
    status: int
    content_type: str
    text: str
    truncated: bool


def checked_url(url: str, allowlist: Allowlist, *, redirect: bool = False) -> httpx2.URL:
    """Parse `url` and admit it only if it is http(s) and its host is allowlisted.

    Raises:
        FetchError: The URL is malformed, not http(s), or its host is not allowlisted.
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
    if not allowlist.allows(parsed):
        hint = "" if allowlist else " (the allowlist is empty: set ALLOWLIST or --allow)"
        raise FetchError(f"{what} host {host!r} is not on the allowlist{hint}")
    return parsed


async def fetch_text(url: str, allowlist: Allowlist, limits: FetchLimits) -> Page:
    """Fetch `url` as text, following at most `limits.max_redirects` checked redirects.

    Raises:
        FetchError: The URL or a redirect is refused, the request fails or times out, the
            status is not 2xx, or the content type is not text.
    """
    target = checked_url(url, allowlist)
    with _translated_errors(url, limits.timeout), anyio.fail_after(limits.timeout):
        # trust_env=False: proxy variables must not silently route requests elsewhere.
        async with httpx2.AsyncClient(
            headers=_HEADERS, timeout=limits.timeout, follow_redirects=False, trust_env=False
        ) as client:
            for _ in range(limits.max_redirects + 1):
                async with client.stream("GET", target) as response:
                    location = response.headers.get("location")
                    if response.is_redirect and location is not None:
                        target = checked_url(str(target.join(location)), allowlist, redirect=True)
                        continue
                    return await _read_page(response, limits.max_bytes)
    raise FetchError(f"too many redirects (more than {limits.max_redirects}) from {url!r}")


async def _read_page(response: httpx2.Response, max_bytes: int) -> Page:
    url = str(response.url)
    if not response.is_success:
        raise FetchError(f"HTTP {response.status_code} {response.reason_phrase} from {url!r}")
    header = response.headers.get("content-type", "")
    media_type = header.split(";", 1)[0].strip().lower()
    if not _is_text(media_type):
        shown = media_type or "none given"
        raise FetchError(f"content type {shown!r} of {url!r} is not text; only text is fetched")
    body = bytearray()
    truncated = False
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            del body[max_bytes:]
            truncated = True
            break
    text = _decode(bytes(body), response.charset_encoding, final=not truncated)
    if media_type in _HTML_TYPES:
        text = html_to_text(text)
    return Page(
        url=url,
        status=response.status_code,
        content_type=media_type,
        text=text,
        truncated=truncated,
    )


def _is_text(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )


def _decode(body: bytes, charset: str | None, *, final: bool) -> str:
    try:
        decoder = codecs.getincrementaldecoder(charset or "utf-8")(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # final=False after a cut drops a multi-byte character split at the end, not garbles it.
    return decoder.decode(body, final=final)


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
