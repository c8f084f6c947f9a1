"""The gateway's own list pagination: opaque cursors into a catalog snapshot, which they name
by the fingerprint of its list (`Catalog.fingerprint`), the same on every replica that lists
the same items."""

from __future__ import annotations

import base64
import binascii

from micro_mcp import codes
from micro_mcp.errors import McpError


def encode_cursor(fingerprint: int, kind: str, offset: int) -> str:
    """A cursor naming a position in one list of one snapshot."""
    text = f"{fingerprint}:{kind}:{offset}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> tuple[int, int]:
    """The list fingerprint and offset a cursor names.

    Raises:
        McpError: INVALID_PARAMS for a cursor this gateway did not issue for this list.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        generation, cursor_kind, offset = raw.split(":")
        if cursor_kind != kind or not generation.isdigit() or not offset.isdigit():
            raise ValueError(raw)  # not a cursor this gateway issued
        return int(generation), int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise McpError(f"Invalid cursor {cursor!r}", code=codes.INVALID_PARAMS) from exc
