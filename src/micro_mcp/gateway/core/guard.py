"""Guardrails as they run in the gateway: where the pipeline is called, off the event loop when
it may be slow, under a deadline, and what each finding leaves behind.

The dispatcher asks a `Guard` three things. `call`: before a `tools/call` goes on (after policy
and rate limits, before consent and the relay), is the tool's definition blocked, and what do
the checks make of the arguments (redacted ones are what the human is asked about and what the
service gets)? `result`: before the result of a call, a prompt or a resource read goes back,
what do they make of it (redacted text, or a block)? `listing`: which tools may a listing
show (a definition a `block` check objects to is hidden, and refused when called)?

Every finding is logged, counted (`micro_mcp_guardrail_findings_total`) and audited (a
`guardrail` record naming the check, its action, the stage and the kinds found, never the text);
every scan is timed per check (`micro_mcp_guardrail_duration_seconds`). A block is
`GuardrailBlocked` (-32031). A payload too large, too deep or too slow to scan is `unscannable`:
blocked or flagged as the config says, never waited on past `guardrails.timeout`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Final

import anyio
import anyio.to_thread

from micro_mcp.config.guardrails import GuardrailsSpec, Stage
from micro_mcp.errors import GuardrailBlocked
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.guardrails import segments
from micro_mcp.guardrails.model import Scan
from micro_mcp.guardrails.pipeline import Check, Pipeline
from micro_mcp.registry.catalog import Catalog, Route

logger = logging.getLogger(__name__)

INLINE_CHARS: Final = 16 * 1024
"""A payload with at most this much text is scanned on the event loop when every check on it
is fast (the regex checks take well under a millisecond for it); a larger one, or one with a
slow check (Presidio), is scanned in a worker thread, under `guardrails.timeout`."""
WORKERS: Final = 2
"""Worker threads scanning at once: more would only queue on the GIL. A scan waiting for one
counts against its deadline."""


class Guard:
    """The config's guardrails, run on calls, results and listings."""

    def __init__(self, spec: GuardrailsSpec, trail: Trail) -> None:
        """Raises:
        ConfigError: a check cannot be built (the `pii` extra is missing, say).
        """
        self.spec = spec
        self.pipeline = Pipeline.from_spec(spec)
        self.trail = trail
        self._limiter = anyio.CapacityLimiter(WORKERS)
        self._judged: tuple[Catalog | None, dict[str, Scan]] = (None, {})
        """The definitions of the latest catalog judged so far, by exposed tool name."""

    @classmethod
    def of(cls, spec: GuardrailsSpec, trail: Trail) -> Guard | None:
        """The guard of a config; None without checks (then nothing pays for guardrails).

        Raises:
            ConfigError: a check cannot be built.
        """
        return cls(spec, trail) if spec.checks else None

    async def call(self, ex: Exchange, catalog: Catalog, exposed: str, route: Route) -> None:
        """Check a `tools/call` before it is forwarded: a blocked definition refuses it, and
        `ex.params` gets the arguments as the checks left them.

        Raises:
            GuardrailBlocked: the definition or the arguments are blocked.
        """
        item = catalog.tool_item(exposed)
        if item is not None and self.pipeline.applicable("listing", route.subject):
            judged = self._judge(ex, catalog, exposed, route, item)
            if judged.blocked is not None:
                raise _blocked(judged)
        checks = self.pipeline.applicable("arguments", route.subject)
        arguments = ex.params.get("arguments")
        if not checks or arguments is None:
            return
        scan = await self._scan("arguments", checks, arguments)
        self._report(ex, scan)
        if scan.value is not arguments:
            ex.params = {**ex.params, "arguments": scan.value}

    async def result(self, ex: Exchange, route: Route, result: dict[str, Any]) -> dict[str, Any]:
        """The result of a `tools/call`, `prompts/get` or `resources/read` as the checks leave
        it (the text redacted); `route.subject` is the tool, prompt or resource matched.

        Raises:
            GuardrailBlocked: the result is blocked; the client never sees it.
        """
        checks = self.pipeline.applicable("result", route.subject)
        if not checks:
            return result
        scan = await self._scan("result", checks, result)
        self._report(ex, scan)
        return scan.value

    def listing(
        self, ex: Exchange, catalog: Catalog, items: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The listed tools without those whose definitions a check blocks. Each definition is
        judged once per catalog (and reported then), on the event loop: definitions are small
        and bounded by `maxScanBytes`."""
        kept: list[dict[str, Any]] = []
        for item in items:
            match item:
                case {"name": str() as name} if (route := catalog.tool(name)) is not None:
                    checked = self.pipeline.applicable("listing", route.subject)
                    if not checked or self._judge(ex, catalog, name, route, item).blocked is None:
                        kept.append(item)
                case _:
                    kept.append(item)
        return kept

    def _judge(
        self, ex: Exchange, catalog: Catalog, exposed: str, route: Route, item: dict[str, Any]
    ) -> Scan:
        """The checks' verdict on a tool's definition, reported the first time it is judged."""
        judged_catalog, verdicts = self._judged
        if judged_catalog is not catalog:
            verdicts = {}
            self._judged = (catalog, verdicts)
        scan = verdicts.get(exposed)
        if scan is None:
            checks = self.pipeline.applicable("listing", route.subject)
            scan = verdicts[exposed] = self.pipeline.scan("listing", checks, item)
            self._record("listing", scan)
            for report in scan.reports:
                logger.warning(
                    "guardrail %s: %s the definition of %s: %s",
                    report.guardrail,
                    _did(report.action),
                    route.subject,
                    report.reason,
                )
                self.trail.guardrail(ex, report, route)
        return scan

    async def _scan(self, stage: Stage, checks: tuple[Check, ...], value: Any) -> Scan:
        """Scan on the event loop when it is cheap, else in a worker thread under the deadline."""
        scan: Scan | None = None
        texts: list[str] | None = None
        if not any(check.detector.slow for check in checks):
            with contextlib.suppress(segments.TooDeep):  # the pipeline reports it, in a thread
                texts = segments.strings(value, INLINE_CHARS)
        if texts is not None:
            scan = self.pipeline.scan(stage, checks, value, texts)
        else:
            timeout = self.spec.timeout
            with anyio.move_on_after(timeout):
                scan = await anyio.to_thread.run_sync(
                    self.pipeline.scan,
                    stage,
                    checks,
                    value,
                    abandon_on_cancel=True,  # the gateway goes on; the thread ends on its own
                    limiter=self._limiter,
                )
            if scan is None:  # the deadline passed first
                scan = self.pipeline.unscannable(stage, value, f"took over {timeout:g} s")
        self._record(stage, scan)
        return scan

    def _record(self, stage: Stage, scan: Scan) -> None:
        """Time each check of a scan."""
        metrics = self.trail.telemetry.metrics
        for name, seconds in scan.seconds:
            metrics.guardrail(name, stage, seconds)

    def _report(self, ex: Exchange, scan: Scan) -> None:
        """Log and audit what the checks did to a call; raise if one blocked it.

        Raises:
            GuardrailBlocked: a check blocked it.
        """
        subject = ex.route.subject if ex.route is not None else "?"
        for report in scan.reports:
            log = logger.info if report.action == "redact" else logger.warning
            log(
                "guardrail %s: %s the %s of %s: %s",
                report.guardrail,
                _did(report.action),
                report.stage,
                subject,
                report.reason,
            )
            self.trail.guardrail(ex, report)
        if scan.blocked is not None:
            raise _blocked(scan)


def _blocked(scan: Scan) -> GuardrailBlocked:
    report = scan.blocked
    assert report is not None
    return GuardrailBlocked(report.guardrail, report.stage, report.reason)


def _did(action: str) -> str:
    return {"redact": "redacted", "block": "blocked", "flag": "flagged"}.get(action, action)
