"""Reading a response body within a byte limit, and decoding it to text.

httpx2 would decompress each network chunk whole, so a few kilobytes of gzip could grow to
hundreds of megabytes before the size check sees them. Here the raw bytes are decompressed
with zlib's `max_length`, so never more than the limit (plus one byte, to tell "exactly at
the limit" from "cut") is produced. Only the encodings the request advertises are accepted.
"""

from __future__ import annotations

import codecs
import re
import zlib

import httpx2

from micro_mcp.services.http.errors import FetchError

ACCEPT_ENCODING = "gzip, deflate"
"""The content codings requested, and the only ones decoded."""

_GZIP_WBITS = zlib.MAX_WBITS | 16
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""")
_SNIFF_BYTES = 1024
"""How far into an HTML document a `<meta charset>` is looked for (as browsers do)."""

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class _Inflater:
    """Decompresses one content coding, producing at most the bytes asked for."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        wbits = _GZIP_WBITS if coding == "gzip" else _ZLIB_WBITS
        self._zlib = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decompress `data`, returning no more than `limit` bytes.

        Raises:
            FetchError: The data is not valid for the coding.
        """
        out = bytearray()
        while data and len(out) < limit:
            try:
                out += self._zlib.decompress(data, limit - len(out))
            except zlib.error as exc:
                if self._coding == "deflate" and not self._started:
                    # "deflate" is meant to be zlib-wrapped; some servers send raw deflate.
                    self._zlib = zlib.decompressobj(_RAW_DEFLATE_WBITS)
                    self._started = True
                    continue
                raise FetchError(f"the body is not valid {self._coding} data") from exc
            self._started = True
            data = self._zlib.unconsumed_tail
            if self._zlib.eof and self._zlib.unused_data:
                # gzip allows several members in a row; each starts a fresh stream.
                data = self._zlib.unused_data
                self._zlib = zlib.decompressobj(
                    _GZIP_WBITS if self._coding == "gzip" else _ZLIB_WBITS
                )
        return bytes(out)


async def read_body(response: httpx2.Response, max_bytes: int) -> tuple[bytes, bool]:
    """Read at most `max_bytes` decoded body bytes; the flag says whether the body was cut.

    Raises:
        FetchError: The content coding is not one this service asked for, or is corrupt.
    """
    coding = response.headers.get("content-encoding", "identity").strip().lower()
    if coding not in {"identity", "gzip", "x-gzip", "deflate"}:
        raise FetchError(f"content encoding {coding!r} is not supported ({ACCEPT_ENCODING})")
    inflater = None if coding == "identity" else _Inflater("gzip" if coding == "x-gzip" else coding)
    body = bytearray()
    async for chunk in response.aiter_raw():
        wanted = max_bytes + 1 - len(body)
        body += chunk[:wanted] if inflater is None else inflater.feed(chunk, wanted)
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), True
    return bytes(body), False


def charset_of(body: bytes, declared: str | None, media_type: str) -> str:
    """The text encoding of `body`: BOM, then the header, then the document's own declaration.

    Falls back to UTF-8; a declared name that is not a text encoding is ignored.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name
    candidates = [declared]
    if media_type in {"text/html", "application/xhtml+xml"}:
        found = _META_CHARSET.search(body[:_SNIFF_BYTES])
        candidates.append(found.group(1).decode("ascii") if found else None)
    elif media_type.endswith("xml"):
        found = _XML_ENCODING.search(body[:_SNIFF_BYTES])
        candidates.append(found.group(1).decode("ascii") if found else None)
    for name in candidates:
        if name and _is_text_encoding(name):
            return name
    return "utf-8"


def decode(body: bytes, charset: str, *, truncated: bool) -> str:
    """Decode `body`; invalid bytes become U+FFFD, and a character cut at the end is dropped."""
    decoder = codecs.getincrementaldecoder(charset)(errors="replace")
    return decoder.decode(body, final=not truncated)


def _is_text_encoding(name: str) -> bool:
    try:
        # str.encode refuses bytes-to-bytes codecs such as "hex" or "zlib" with LookupError.
        "".encode(name)
    except (LookupError, ValueError):
        return False
    return True
