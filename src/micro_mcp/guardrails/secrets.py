"""The `secrets` guardrail: API keys, private keys and tokens, by detect-secrets' detectors.

The regex detectors detect-secrets 1.5 ships (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, PyPI,
npm, SendGrid, Twilio, JWTs checked for form, PEM private keys, passwords in URLs, ...; the
ones left out are in `LEFT_OUT`) plus the gateway's own shapes (`micro_mcp.redaction`: `Bearer`
credentials, `password=` pairs, Google and `sk-` keys). A PEM key is found from BEGIN to END,
so the whole block is redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, cast

from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.jwt import JwtTokenDetector

from micro_mcp import redaction
from micro_mcp.guardrails.model import Finding

LEFT_OUT: Final = frozenset(
    {
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Secret Keyword",
        "Public IP (ipv4)",
        "Cloudant Credentials",
        "IBM Cloud IAM Key",
        "IBM COS HMAC Credentials",
        "SoftLayer Credentials",
    }
)
"""detect-secrets' detectors left out: the entropy and keyword ones report ordinary text, the
public-IP one no secret; the four vendor keyword detectors (Cloudant, IBM Cloud, IBM COS,
SoftLayer: `cl_api_key = ...` shapes, which the gateway's `password=` shapes partly cover) try
look-behinds at every character and took 0.5 ms of the 0.8 ms a 2 KB text cost with them."""
_EDGES: Final = " \t\r\n\"'=:"
"""What some detectors match around a secret (`(?:\\s|=|:|"|^)AKC...`): not part of it."""
_MIN_GROUP: Final = 8
"""A detector's capture group this long is the secret (a URL's password); a shorter one is a
prefix it names (`ghp`), and the whole match is the secret."""


class _AnyCase(str):
    """An anchor of a pattern that ignores case: looked for in the lower-cased text."""

    __slots__ = ()


Anchor = str | re.Pattern[str]

_ANCHORS: Final[dict[str, tuple[Anchor, ...]]] = {
    "AWS Access Key": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", _AnyCase("aws")),
    "Artifactory Credentials": ("AKC", "AP"),
    "Azure Storage Account access key": ("AccountKey=",),
    "Basic Auth Credentials": ("://",),
    "GitHub Token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "GitLab Token": ("gl", "GR1348941"),
    "JSON Web Token": ("eyJ",),
    "Mailchimp Access Key": ("-us",),
    "NPM tokens": ("_authToken",),
    "OpenAI Token": ("T3BlbkFJ",),
    "Private Key": ("PRIVATE KEY", "PuTTY-User-Key-File"),
    "PyPI Token": ("pypi-",),
    "SendGrid API Key": ("SG.",),
    "Slack Token": (_AnyCase("xox"), _AnyCase("hooks.slack.com")),
    "Square OAuth Secret": ("sq0csp-",),
    "Stripe Access Key": ("k_live_",),
    "Telegram Bot Token": (re.compile(":[0-9A-Za-z_-]{35}"),),
    "Twilio API Key": ("AC", "SK"),
}
"""Per detector: strings (lower case in `_AnyCase` for patterns that ignore case; or patterns
that start with a literal, which Python's regex engine finds fast) one of which every match of
its patterns holds, so a detector runs only on texts
that may hold its secret. A detector not named here (one a later detect-secrets adds) always
runs. Most detector patterns start with a class or a group, so the engine tries them at every
character: 20-120 us each over 4 KB of plain text, against about 1 us for these checks."""


class SecretDetector:
    """Finds secrets; compiled once, safe to share between threads."""

    slow = False

    def __init__(self) -> None:
        self._detectors: list[tuple[str, tuple[Anchor, ...], list[re.Pattern[str]]]] = []
        self._jwt = JwtTokenDetector()
        for secret_type, plugin in sorted(get_mapping_from_secret_type_to_class().items()):
            if secret_type in LEFT_OUT or not issubclass(plugin, RegexBasedDetector):
                continue
            kind = re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")
            denylist = cast(Iterable[re.Pattern[str]], plugin().denylist)  # pyright: ignore[reportUnknownMemberType]  # untyped library
            anchors = _ANCHORS.get(secret_type, ())
            self._detectors.append((kind, anchors, list(denylist)))

    def find(self, text: str) -> list[Finding]:
        """Every secret in `text`, once per span (detect-secrets' name for it first)."""
        found: list[Finding] = []
        lowered = text.lower()
        for kind, anchors, patterns in self._detectors:
            if anchors and not any(_holds(text, lowered, anchor) for anchor in anchors):
                continue
            for match in (m for pattern in patterns for m in pattern.finditer(text)):
                start, end = _secret(match)
                if start >= end:
                    continue
                if kind == "json_web_token" and not self._jwt.is_formally_valid(text[start:end]):
                    continue
                found.append(Finding(start, end, kind))
        spans = {(f.start, f.end) for f in found}
        found.extend(Finding(*span) for span in redaction.find(text) if span[:2] not in spans)
        return found


def _holds(text: str, lowered: str, anchor: Anchor) -> bool:
    if isinstance(anchor, _AnyCase):
        return anchor in lowered
    return anchor in text if isinstance(anchor, str) else anchor.search(text) is not None


def _secret(match: re.Match[str]) -> tuple[int, int]:
    """The span of the secret in a detector's match: its longest group when that is long
    enough to be the secret, else the whole match, without the edges some patterns include."""
    start, end = match.span()
    groups = [index for index in range(1, (match.re.groups or 0) + 1) if match.group(index)]
    if groups:
        longest = max(groups, key=lambda index: len(match.group(index)))
        if len(match.group(longest)) >= _MIN_GROUP:
            start, end = match.span(longest)
    text = match.string
    while start < end and text[start] in _EDGES:
        start += 1
    while end > start and text[end - 1] in _EDGES:
        end -= 1
    return start, end
