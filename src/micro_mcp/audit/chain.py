"""The hash chain that makes the audit trail tamper-evident. Pure: bytes in, bytes out.

Every record is sealed into one JSON line that starts with its place in the chain:

    {"seq":7,"prev":"<sha256 of line 6, newline included>", ...the event..., "mac":"<hex>"}

`seq` counts records from 0 across every file of the trail (rotation does not restart it);
`prev` is the SHA-256 of the previous line's bytes (for seq 0, 64 zeros). A changed line breaks
the `prev` of the line after it; a removed or reordered line breaks `seq`. With a key, `mac`
(HMAC-SHA256 of the line as it is before `,"mac":...` is added, closing brace included) also
covers the last line and stops someone who rewrites the whole chain from the changed line on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

GENESIS: Final = "0" * 64
"""The `prev` of the first record a trail ever holds."""
RECORD_KEY_LABEL: Final = b"micro-mcp audit record"
"""Derives the record MAC key from the deployment's audit key."""
ARGUMENTS_KEY_LABEL: Final = b"micro-mcp audit arguments"
"""Derives the argument-digest key from the deployment's audit key."""

_MAC_TAIL: Final = re.compile(rb',"mac":"([0-9a-f]{64})"\}\n\Z')


def derive(key: bytes, label: bytes) -> bytes:
    """A key for one use (`RECORD_KEY_LABEL`, `ARGUMENTS_KEY_LABEL`) from the deployment key."""
    return hmac.new(key, label, hashlib.sha256).digest()


def line_hash(line: bytes) -> str:
    """The SHA-256 (hex) of a sealed line, newline included: the next record's `prev`."""
    return hashlib.sha256(line).hexdigest()


@dataclass(slots=True)
class Chain:
    """Where the chain stands: the next `seq`, the hash of the last line, the MAC key if any."""

    seq: int = 0
    prev: str = GENESIS
    key: bytes | None = None
    """The record MAC key (already derived); None writes no `mac`."""

    def seal(self, body: bytes) -> bytes:
        """`body` (a JSON object, no newline) as the chain's next line; advances the chain."""
        line = self.peek(body)
        self.advance(line)
        return line

    def peek(self, body: bytes) -> bytes:
        """The line `seal` would return, without advancing: a sink advances once it is written."""
        head = b'{"seq":%d,"prev":"%s"' % (self.seq, self.prev.encode())
        signed = head + (b"," + body[1:] if len(body) > 2 else b"}")
        if self.key is None:
            return signed + b"\n"
        mac = hmac.new(self.key, signed, hashlib.sha256).hexdigest().encode()
        return signed[:-1] + b',"mac":"' + mac + b'"}\n'

    def advance(self, line: bytes) -> None:
        """Move past `line`, a line of this chain that is now written."""
        self.seq += 1
        self.prev = line_hash(line)


def mac_of(line: bytes) -> tuple[bytes, str] | None:
    """The signed bytes of a line and its `mac`, or None when the line carries none."""
    match = _MAC_TAIL.search(line)
    if match is None:
        return None
    return line[: match.start()] + b"}", match.group(1).decode()


def mac_ok(key: bytes, line: bytes) -> bool | None:
    """Whether the line's `mac` is right under `key`; None when it carries none."""
    found = mac_of(line)
    if found is None:
        return None
    signed, mac = found
    return hmac.compare_digest(hmac.new(key, signed, hashlib.sha256).hexdigest(), mac)
