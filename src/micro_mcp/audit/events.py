"""Audit records: what was asked, by whom, what was decided and how it ended."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the audit trail: a call as it arrives (`call`), the human's consent to it
    (`consent`), what a guardrail did to it (`guardrail`), its outcome (`reply`), or a request
    refused at the HTTP door (`refused`)."""

    event: str
    """`call`, `consent`, `guardrail`, `reply`, or `refused` (an HTTP request turned away
    before it reached the dispatcher: no token, a bad one, too few scopes)."""
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
    rule: str | None = None
    """On `call` records: the id of the authorization rule that decided, when one did."""
    consent: str | None = None
    """On `consent` records: `granted`, `remembered`, `asked` (a 2026-07-28 client was sent the
    question), `resumed` (a 2026-07-28 service's own input round of an approved call),
    `declined`, `cancelled`, `unavailable` (could not be asked), `timeout` or `invalid` (a
    forged, expired, replayed or mismatched consent state)."""
    reason: str | None = None
    """Why, in words: on `call` records, why the policy and rules decided as they did (`rule
    'docs-only' allows it: condition holds`; written when rules are configured or the call is
    denied); on `consent` records that refuse, why the consent was not given; on `guardrail`
    records, what was found (`2 found: EMAIL_ADDRESS, aws_access_key`), never the text."""
    guardrail: str | None = None
    """On `guardrail` records: the check's name (`unscannable` for a payload too large, deep
    or slow to scan)."""
    action: str | None = None
    """On `guardrail` records: `redact`, `block` or `flag`."""
    stage: str | None = None
    """On `guardrail` records: `arguments`, `result` or `listing`."""
    outcome: str | None = None
    """On replies: `ok`, `tool_error`, `error`, `denied`, `limited` or `cancelled`."""
    error_code: int | None = None
    rate_limit: str | None = None
    """On replies refused by a rate limit (outcome `limited`; error code -32016, or -32017 when
    its store was unreachable): the rule's id."""
    http_status: int | None = None
    """On `refused` records: the HTTP status sent (400, 401, 403)."""
    peer: str | None = None
    """On `refused` records: the client's address, as the HTTP server saw it."""
    duration_ms: float | None = None
    arguments: Any = None
    """Verbatim arguments, only when the operator asked for them."""
    arguments_size: int | None = None
    arguments_hmac: str | None = None
    """HMAC-SHA256 of the arguments' canonical JSON under the audit key: matches calls with the
    same arguments, but a guessed argument cannot be confirmed without the key."""

    def to_json(self) -> bytes:
        """The record as one JSON line, leaving out fields that do not apply."""
        fields = {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}
        return orjson.dumps(fields, option=orjson.OPT_APPEND_NEWLINE)


def fingerprint(arguments: Any) -> tuple[int, str]:
    """Size and SHA-256 of the arguments' canonical JSON: enough to match calls, not to read."""
    data = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    return len(data), hashlib.sha256(data).hexdigest()
