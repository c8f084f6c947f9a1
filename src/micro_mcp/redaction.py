"""Secrets in text, found by the shapes of common credentials and replaced by `[REDACTED:kind]`.

Used on what services write to stderr before the gateway logs it (a service that echoes its
environment or a request's headers must not leak them into the gateway's log), and sized for
that hot path: one compiled pattern, a few microseconds a line (bench/audit.py). A maintained
scanner (detect-secrets 1.5) was measured at about 1.4 ms a line in its per-line mode, with
every word reported as a candidate, so it does not fit here.

Covered: AWS access key ids, GitHub, GitLab, Slack, Stripe, OpenAI/Anthropic-style `sk-` keys,
Google API keys, JWTs, `Bearer`/`Basic` credentials, passwords in URLs, `name=value` and
`name: value` for names like password, secret, token, api_key, and PEM private key blocks
(every line from BEGIN to END). Not covered: a secret of no known shape under an unknown name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

_SHAPES: Final = {
    "aws_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
    "gitlab_token": r"\bglpat-[A-Za-z0-9_-]{20,}",
    "slack_token": r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    "stripe_key": r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}",
    "api_key": r"\bsk-[A-Za-z0-9_-]{20,}",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "credential": r"(?<=\b(?i:bearer) )[A-Za-z0-9._~+/=-]{8,}|(?<=\b(?i:basic) )[A-Za-z0-9+/=]{8,}",
    "url_password": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
    "assigned": (
        r"(?<![A-Za-z0-9])(?i:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key"
        r"|private[_-]?key|client[_-]?secret)[A-Za-z0-9_-]*[\"']?\s*[:=]\s*[\"']?"
        r"(?P<value>[^\s\"',;&]{4,})"
    ),
}
_PATTERN: Final = re.compile("|".join(f"(?P<{k}>{v})" for k, v in _SHAPES.items()))
_EACH: Final = {kind: re.compile(shape) for kind, shape in _SHAPES.items()}
_ANCHORS: Final = {
    "aws_key": ("akia", "asia"),
    "github_token": ("gh", "github_pat_"),
    "gitlab_token": ("glpat-",),
    "slack_token": ("xox",),
    "stripe_key": ("k_live_", "k_test_"),
    "api_key": ("sk-",),
    "google_api_key": ("aiza",),
    "jwt": ("eyj",),
    "credential": ("bearer", "basic"),
    "url_password": ("://",),
    "assigned": ("pass", "pwd", "secret", "token", "key"),
}
"""For `find`: words (lower case) one of which a text must hold for a shape to match in it,
so a shape's pattern, which Python's regex engine cannot skip ahead for (it starts with `\b`
or a look-behind), runs only on texts that may hold one."""
_PEM_BEGIN: Final = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_PEM_END: Final = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----")
_PEM_BLOCK: Final = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "value" or match.group("value") is not None:
        start, end = match.span("value")
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + "[REDACTED:assigned]" + whole[end - offset :]
    if kind == "url_password":
        return match.group(0).split(":", 1)[0] + ":[REDACTED:url_password]"
    return f"[REDACTED:{kind}]"


def redact(text: str) -> str:
    """`text` with every secret of a known shape replaced."""
    return _PATTERN.sub(_replace, text)


def redact_text(text: str) -> str:
    """`text` of any number of lines with every secret replaced, PEM private key blocks whole
    (from BEGIN to END, or to the end of a block cut short)."""
    if "PRIVATE KEY" in text:
        text = _PEM_BLOCK.sub("[REDACTED:private_key]", text)
    return redact(text)


def redact_value(value: Any) -> Any:
    """A JSON value with `redact_text` applied to every string in it (keys too), rebuilt only
    where something changed."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        items: dict[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {redact_value(k): redact_value(v) for k, v in items.items()}
    if isinstance(value, list):
        elements: list[Any] = value  # pyright: ignore[reportUnknownVariableType]
        return [redact_value(v) for v in elements]
    return value


def find(text: str) -> Iterator[tuple[int, int, str]]:
    """Where secrets of a known shape are in `text`: `(start, end, kind)`, the secret alone (a
    `password=` pair's value, a URL's password), PEM private key blocks whole."""
    for match in _PEM_BLOCK.finditer(text):
        yield match.start(), match.end(), "private_key"
    lowered = text.lower()
    for kind, pattern in _EACH.items():
        if not any(anchor in lowered for anchor in _ANCHORS[kind]):
            continue
        for match in pattern.finditer(text):
            if kind == "assigned":
                yield *match.span("value"), kind
            elif kind == "url_password":
                start, end = match.span()
                yield start + match.group(0).index(":") + 1, end, kind
            else:
                yield *match.span(), kind


class Redactor:
    """Redacts a stream line by line, hiding every line of a PEM private key block."""

    __slots__ = ("_in_key",)

    def __init__(self) -> None:
        self._in_key = False

    def line(self, text: str) -> str:
        """One line, redacted."""
        if self._in_key:
            if _PEM_END.search(text):
                self._in_key = False
            return "[REDACTED:private_key]"
        if _PEM_BEGIN.search(text):
            self._in_key = _PEM_END.search(text) is None
            return "[REDACTED:private_key]"
        return redact(text)
