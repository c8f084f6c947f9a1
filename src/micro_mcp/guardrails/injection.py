"""The `injection` guardrail: text that addresses the model instead of informing the user.

A heuristic over tool definitions and results, for the attacks seen in MCP tool poisoning:
orders to ignore earlier instructions, a new role or system prompt, tags that pose as the
system's (`<IMPORTANT>`, `<system>`), demands to hide something from the user, to read
credentials (`~/.ssh`, `.env`) or to send data somewhere, and invisible characters (Unicode tag
characters, runs of zero-width ones) that carry text a human reviewer cannot see. Each phrase
is a finding of its own kind. It flags; it cannot prove intent, so `block` is for services one
does not trust.
"""

from __future__ import annotations

import re
from typing import Final

from micro_mcp.guardrails.model import Finding

_PHRASES: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    # kind: (words one of which the lower-cased text must hold for the pattern to run, pattern)
    "ignore_instructions": (
        ("ignore", "disregard", "forget", "override"),
        r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+)*"
        r"(?:previous|prior|above|earlier|preceding|other|system)\s+"
        r"(?:instructions?|prompts?|rules|directions|messages)",
    ),
    "new_role": (
        ("you are now", "from now on", "instruction", "act as"),
        r"\b(?:you\s+are\s+now\s+(?:a|an|the|in)\b|from\s+now\s+on,?\s+you\s+(?:are|will|must)"
        r"|new\s+(?:system\s+)?instructions?\s*:|act\s+as\s+(?:a|an)\s+(?:different|new|unrestricted))",
    ),
    "system_prompt": (
        ("system prompt",),
        r"\b(?:reveal|print|show|repeat|output)\s+(?:your\s+|the\s+)?system\s+prompt",
    ),
    "fake_tag": (("<",), r"</?\s*(?:important|system|instructions?|admin|secret)\s*>"),
    "hide_from_user": (
        ("user",),
        r"\b(?:do\s+not|don't|never)\s+(?:tell|inform|mention|show|reveal|notify)\s+"
        r"(?:this\s+to\s+)?(?:the\s+)?user",
    ),
    "credential_access": (
        (".ssh", "id_rsa", ".aws", ".env", "/etc/passwd", "mcp.json"),
        r"(?:~/\.ssh|\bid_rsa\b|~/\.aws/credentials|\.env\b|/etc/passwd|~/\.cursor/mcp\.json)",
    ),
    "exfiltration": (
        ("send", "post", "upload", "forward", "exfiltrate", "transmit"),
        r"\b(?:send|post|upload|forward|exfiltrate|transmit)\s+(?:it|them|this|the\s+\w+|all"
        r"\s+\w+|\w+)\s+(?:to|via)\s+(?:https?://|the\s+(?:following\s+)?(?:url|endpoint|email))",
    ),
    "before_using_tool": (
        ("before",),
        r"\bbefore\s+(?:using|calling|running)\s+(?:this|any\s+other|the)\s+tool,?\s+"
        r"(?:you\s+must\s+|first\s+)?(?:read|call|send|open|pass)",
    ),
}
_PATTERNS: Final = [
    (kind, words, re.compile(pattern, re.IGNORECASE)) for kind, (words, pattern) in _PHRASES.items()
]
_HIDDEN: Final = re.compile(r"[\U000E0000-\U000E007F]+|[\u200B-\u200D\u2060\uFEFF]{3,}")
"""Unicode tag characters (invisible ASCII), and runs of zero-width characters."""


class InjectionDetector:
    """Finds phrases of prompt injection; stateless."""

    slow = False

    def find(self, text: str) -> list[Finding]:
        """Every suspicious phrase in `text`. A pattern runs only when the text holds one of its
        words: a scan of plain text is a few substring searches, not a regex per character."""
        lowered = text.lower()
        found = [
            Finding(match.start(), match.end(), kind)
            for kind, words, pattern in _PATTERNS
            if any(word in lowered for word in words)
            for match in pattern.finditer(text)
        ]
        if not text.isascii():
            found.extend(Finding(*m.span(), "hidden_characters") for m in _HIDDEN.finditer(text))
        return found
