"""The guardrail seam: what a detector finds, and what a check did with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Finding:
    """A span of text a detector objects to: `text[start:end]`, of a named `kind`
    (`aws_access_key`, `EMAIL_ADDRESS`, `ignore_instructions`)."""

    start: int
    end: int
    kind: str


class Detector(Protocol):
    """Finds what one guardrail looks for in a text. Implementations are pure and thread-safe:
    the gateway may call them from a worker thread."""

    @property
    def slow(self) -> bool:
        """Whether a call can take milliseconds (then it always runs in a worker thread)."""
        ...

    def find(self, text: str) -> list[Finding]:
        """Every span of `text` this guardrail objects to, in any order; overlaps allowed."""
        ...


@dataclass(frozen=True, slots=True)
class Report:
    """What one check found in one payload and did about it."""

    guardrail: str
    stage: str
    action: str
    """`redact`, `block` or `flag`."""
    kinds: tuple[str, ...]
    """The kinds found, each once, sorted; never the text."""
    count: int

    @property
    def reason(self) -> str:
        """In words, for errors, logs and the audit: what was found, never the text itself."""
        return f"{self.count} found: {', '.join(self.kinds)}"


@dataclass(slots=True)
class Scan:
    """A payload after the checks: `value` (redacted where a check redacted), what each check
    that found something did, the seconds each check took, and the report that blocked it."""

    value: Any
    reports: list[Report] = field(default_factory=list[Report])
    seconds: list[tuple[str, float]] = field(default_factory=list[tuple[str, float]])
    blocked: Report | None = None
