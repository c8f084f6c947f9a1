"""The configured checks, in order, over one payload: find, then redact, block or flag.

`Pipeline.scan` is pure and synchronous. It joins a payload's strings (`segments`) into one text
so each check scans once, whatever the payload's shape; it refuses to scan more than
`maxScanBytes` of text or a payload nested deeper than `segments.MAX_DEPTH` (an `unscannable`
report); a check that redacts hands its output to the next, and the first that blocks ends the
scan. The seconds each check took are returned, for the caller to measure.
"""

from __future__ import annotations

import fnmatch
import time
from typing import Any, Final

from micro_mcp.config.guardrails import CheckSpec, GuardrailsSpec, Stage
from micro_mcp.errors import ConfigError
from micro_mcp.guardrails import segments
from micro_mcp.guardrails.model import Detector, Report, Scan

UNSCANNABLE: Final = "unscannable"
"""The guardrail name of a payload the checks could not scan (too large, too deep, too slow)."""
_SUBJECTS_KEPT: Final = 4096
"""Subjects whose applicable checks are remembered; the memo is dropped when it grows past."""


class Check:
    """One configured check, its detector built."""

    __slots__ = ("action", "detector", "name", "stages", "tools")

    def __init__(self, spec: CheckSpec, detector: Detector) -> None:
        self.name = spec.label
        self.action = spec.verdict
        self.stages = frozenset(spec.stages)
        self.tools = spec.tools
        self.detector = detector

    def applies(self, stage: Stage, subject: str) -> bool:
        """Whether it runs at `stage` on tool `subject` (canonical `namespace.name`)."""
        return stage in self.stages and any(fnmatch.fnmatchcase(subject, p) for p in self.tools)


class Pipeline:
    """The checks of a `guardrails` section."""

    def __init__(self, spec: GuardrailsSpec, checks: list[Check]) -> None:
        self.spec = spec
        self.checks = checks
        self._memo: dict[tuple[Stage, str], tuple[Check, ...]] = {}

    @classmethod
    def from_spec(cls, spec: GuardrailsSpec) -> Pipeline:
        """Build each check's detector.

        Raises:
            ConfigError: a `pii` check without the `pii` extra, or with an unknown entity.
        """
        return cls(spec, [Check(check, detector(check)) for check in spec.checks])

    def applicable(self, stage: Stage, subject: str) -> tuple[Check, ...]:
        """The checks that run at `stage` on tool `subject`, in order."""
        key = (stage, subject)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _SUBJECTS_KEPT:
                self._memo.clear()
            found = self._memo[key] = tuple(c for c in self.checks if c.applies(stage, subject))
        return found

    def scan(
        self, stage: Stage, checks: tuple[Check, ...], value: Any, texts: list[str] | None = None
    ) -> Scan:
        """Run `checks` over the strings of `value` (`texts`, when the caller has them); the
        result's `value` is a copy where a check redacted (the original is never changed)."""
        outcome = Scan(value)
        if texts is None:
            try:
                texts = segments.strings(value, self.spec.max_scan_bytes)
            except segments.TooDeep:
                return self.unscannable(stage, value, f"nested deeper than {segments.MAX_DEPTH}")
        if texts is None or sum(len(text) for text in texts) > self.spec.max_scan_bytes:
            return self.unscannable(
                stage, value, f"over maxScanBytes ({self.spec.max_scan_bytes}) of text"
            )
        if not texts:
            return outcome
        changed = False
        for check in checks:
            joined, starts = _join(texts)
            began = time.perf_counter()
            findings = check.detector.find(joined)
            outcome.seconds.append((check.name, time.perf_counter() - began))
            if not findings:
                continue
            kinds = tuple(sorted({f.kind for f in findings}))
            count = len({(f.start, f.end) for f in findings})
            report = Report(check.name, stage, check.action, kinds, count)
            outcome.reports.append(report)
            if check.action == "block":
                outcome.blocked = report
                return outcome
            if check.action == "redact":
                spans = [(f.start, f.end, f.kind) for f in findings]
                texts = segments.redact(texts, starts, spans)
                changed = True
        if changed:
            outcome.value = segments.rebuild(value, texts)
        return outcome

    def unscannable(self, stage: Stage, value: Any, why: str) -> Scan:
        """The outcome for a payload the checks could not scan: blocked or flagged, as the
        config's `unscannable` says."""
        report = Report(UNSCANNABLE, stage, self.spec.unscannable, (why,), 1)
        outcome = Scan(value, [report])
        if self.spec.unscannable == "block":
            outcome.blocked = report
        return outcome


def _join(texts: list[str]) -> tuple[str, list[int]]:
    """The texts as one, and where each starts in it."""
    starts: list[int] = []
    position = 0
    for text in texts:
        starts.append(position)
        position += len(text) + len(segments.SEPARATOR)
    return segments.SEPARATOR.join(texts), starts


def detector(check: CheckSpec) -> Detector:
    """The detector a check uses, its library imported only when a check asks for it.

    Raises:
        ConfigError: `pii` without the `pii` extra installed, or with an unknown entity.
    """
    if check.use == "secrets":
        from micro_mcp.guardrails.secrets import SecretDetector

        return SecretDetector()
    if check.use == "injection":
        from micro_mcp.guardrails.injection import InjectionDetector

        return InjectionDetector()
    try:
        from micro_mcp.guardrails.pii import PiiDetector
    except ImportError as exc:
        raise ConfigError(
            f"guardrails: check {check.label!r} (pii) needs the `pii` extra ({exc.name} is "
            "missing): .venv/bin/pip install '.[pii]' from the clone"
        ) from exc
    return PiiDetector(check.entities, check.threshold)
