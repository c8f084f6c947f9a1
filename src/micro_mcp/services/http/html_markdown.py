"""HTML to readable Markdown, with BeautifulSoup (stdlib parser) and markdownify.

markdownify is a small, widely used converter that keeps what a reader needs from a page:
headings, paragraphs, lists, tables, code blocks and links. Before converting, elements that
never hold readable text (scripts, styles, templates, embedded frames, `<head>`) are removed,
images are dropped (a `data:` image alone can be megabytes of base64), links are made
absolute against the page URL, and links to anything but http(s) keep only their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag
from markdownify import ATX, MarkdownConverter

_NOT_TEXT = (
    "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
    "canvas", "head", "img", "picture", "video", "audio", "map", "form",
)  # fmt: skip
"""Elements removed with their content before conversion."""

_LINK_SCHEMES = frozenset({"http", "https"})

_BLANK_LINES = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")

_CONVERTER = MarkdownConverter(
    heading_style=ATX,
    bullets="-",
    # The reader is a person or a model, not a Markdown renderer: backslashes before every
    # `_` and `*` in prose (snake_case, footnote stars) would only be noise.
    escape_underscores=False,
    escape_asterisks=False,
)


@dataclass(frozen=True, slots=True)
class HtmlDocument:
    """An HTML page as its title and its body in Markdown."""

    title: str | None
    markdown: str


def html_to_markdown(html: str, base_url: str) -> HtmlDocument:
    """Convert an HTML document to Markdown, resolving links against `base_url`."""
    soup = BeautifulSoup(html, "html.parser")
    title = _title(soup)
    for element in soup.find_all(_NOT_TEXT):
        element.decompose()
    for link in soup.find_all("a"):
        _absolute_or_dropped(link, base_url)
    markdown = _BLANK_LINES.sub("\n\n", _CONVERTER.convert_soup(soup)).strip()
    return HtmlDocument(title=title, markdown=markdown)


def _title(soup: BeautifulSoup) -> str | None:
    element = soup.find("title")
    if element is None:
        return None
    text = _WHITESPACE.sub(" ", element.get_text()).strip()
    return text or None


def _absolute_or_dropped(link: Tag, base_url: str) -> None:
    href = link.get("href")
    if not isinstance(href, str):
        return
    try:
        absolute = urljoin(base_url, href.strip())
        keep = urlsplit(absolute).scheme in _LINK_SCHEMES
    except ValueError:  # e.g. a malformed IPv6 host in the link
        absolute, keep = "", False
    if keep:
        link["href"] = absolute
    else:
        # javascript:, data:, mailto: ... are no use to a reader and can be long or hostile.
        del link["href"]
