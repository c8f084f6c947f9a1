"""Audit records: what was asked, by whom, what was decided and how it ended."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail: a call as it arrives (`call`) or its outcome (`reply`)."""

    event: str
    """`call` or `reply`."""
    time: float
    """Unix time in seconds."""
    correlation_id: str
    """Joins a call to its reply and to the request id the service saw."""
    principal: str
    method: str
    name: str | None = None
    """The canonical `namespace.name` (or `namespace.uri`) the call addressed."""
    service: str | None = None
    decision: str | None = None
    """`allow` or `deny` on calls."""
    outcome: str | None = None
    """On replies: `ok`, `tool_error`, `error`, `denied`, `limited` or `cancelled`."""
    error_code: int | None = None
    rate_limit: str | None = None
    """On replies refused by a rate limit (outcome `limited`; error code -32016, or -32017 when
    its store was unreachable): the rule's id."""
    duration_ms: float | None = None
    arguments: Any = None
    """Verbatim arguments, only when the operator asked for them."""
    arguments_size: int | None = None
    arguments_sha256: str | None = None

    def to_json(self) -> bytes:
        """The record as one JSON line, leaving out fields that do not apply."""
        fields = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}
        return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)


def fingerprint(arguments: Any) -> tuple[int, str]:
    """Size and SHA-256 of the arguments' canonical JSON: enough to match calls, not to read."""
    data = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    return len(data), hashlib.sha256(data).hexdigest()
