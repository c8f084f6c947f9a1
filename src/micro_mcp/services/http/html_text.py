"""HTML to readable plain text, with the standard library's `html.parser`.

A deliberately small extraction: scripts, styles and other non-content elements are dropped,
block elements become paragraph breaks, headings and list items keep a Markdown-like marker,
`<pre>` keeps its whitespace and other runs of whitespace collapse to one space. The page
title, if any, is the first line.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "object"})
"""Elements whose content is never readable text."""

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "main", "nav",
        "ol", "p", "section", "summary", "table", "tbody", "thead", "tfoot", "tr", "ul",
    }
)  # fmt: skip
"""Elements that start and end a paragraph."""

_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

_WHITESPACE = re.compile(r"\s+")


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML document."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    body = parser.text()
    title = _WHITESPACE.sub(" ", parser.title).strip()
    if title and not body.startswith(title):
        return f"{title}\n\n{body}" if body else title
    return body


class _TextExtractor(HTMLParser):
    """Collects text; line breaks are kept pending until more text arrives, so none trail."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self._pieces: list[str] = []
        self._pending_breaks = 0
        self._skip_depth = 0
        self._pre_depth = 0
        self._in_title = False

    def text(self) -> str:
        return "".join(self._pieces).strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "br":
            self._break(1)
        elif tag in _HEADINGS:
            self._break(2)
            self._write("#" * int(tag[1]) + " ")
        elif tag == "li":
            self._break(1)
            self._write("- ")
        elif tag == "pre":
            self._break(2)
            self._pre_depth += 1
        elif tag in {"td", "th"}:
            self._write(" ")
        elif tag in _BLOCKS:
            self._break(2)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "title":
            self._in_title = False
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
            self._break(2)
        elif tag == "li":
            self._break(1)
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._break(2)

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._skip_depth:
            return
        elif self._pre_depth:
            self._write(data, keep_whitespace=True)
        else:
            self._write(_WHITESPACE.sub(" ", data))

    def _break(self, count: int) -> None:
        self._pending_breaks = max(self._pending_breaks, count)

    def _write(self, text: str, *, keep_whitespace: bool = False) -> None:
        if not keep_whitespace and not text.strip():
            # Whitespace alone never starts a line, and never forces pending breaks out.
            mid_line = not (self._pending_breaks or self._at_line_start())
            if text and mid_line and self._last_char() != " ":
                self._pieces.append(" ")
            return
        if self._pending_breaks and self._pieces:
            self._pieces[-1] = self._pieces[-1].rstrip(" ")
            self._pieces.append("\n" * self._pending_breaks)
        self._pending_breaks = 0
        if not keep_whitespace and (self._at_line_start() or self._last_char() == " "):
            text = text.lstrip(" ")
        if text:
            self._pieces.append(text)

    def _last_char(self) -> str:
        return self._pieces[-1][-1] if self._pieces and self._pieces[-1] else ""

    def _at_line_start(self) -> bool:
        return not self._pieces or self._last_char() == "\n"
