"""The trail every request leaves: an audit record when it arrives and one when it is answered,
and the matching metrics and span events. Arguments are written as size and SHA-256 unless the
operator asked for them verbatim, and then with secrets of known shapes redacted (unless
`audit.redactSecrets` is off). When the trail cannot be written and fails closed, a call is
refused before it is forwarded, and an answer that could not be recorded is replaced by the
refusal."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.keys import AuditKeys, from_key
from micro_mcp.audit.sinks import AuditSink
from micro_mcp.errors import (
    AuditUnavailable,
    McpError,
    PolicyDenied,
    RateLimited,
    RateLimitUnavailable,
    Unauthenticated,
)
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.guardrails.model import Report
from micro_mcp.policy import engine
from micro_mcp.policy.model import Decision
from micro_mcp.protocol.jsonrpc import next_id
from micro_mcp.redaction import redact_value
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry.recorder import Recorder

ARGUMENT_METHODS = ("tools/call", "prompts/get")
"""The methods whose `arguments` the audit records (as size and keyed digest, or verbatim)."""


class Trail:
    """Writes each exchange's `call` and `reply` records to the audit sink and the telemetry."""

    __slots__ = ("audit", "include_arguments", "keys", "redact_secrets", "telemetry")

    def __init__(
        self,
        audit: AuditSink,
        telemetry: Recorder,
        include_arguments: bool,
        keys: AuditKeys | None = None,
        redact_secrets: bool = True,
    ) -> None:
        self.audit = audit
        self.telemetry = telemetry
        self.include_arguments = include_arguments
        self.keys = keys if keys is not None else from_key(None)
        self.redact_secrets = redact_secrets
        """Verbatim arguments are recorded with secrets of known shapes replaced."""

    def call(self, ex: Exchange, decision: str | None, why: Decision | None = None) -> None:
        """Record a request as it arrives, with the policy decision (None: none was taken) and,
        from a policy check, the rule that decided and the reason.

        Raises:
            AuditUnavailable: the trail cannot be written and fails closed.
        """
        ex.audited = True
        self.telemetry.on_call(ex, decision, principal_name(ex.client))
        arguments = ex.params.get("arguments") if ex.method in ARGUMENT_METHODS else None
        size = digest = None
        if arguments is not None and not self.include_arguments:
            size, digest = self.keys.digest(arguments)
        verbatim = arguments if self.include_arguments else None
        if verbatim is not None and self.redact_secrets:
            verbatim = redact_value(verbatim)
        self._emit(
            ex,
            "call",
            decision=decision,
            arguments=verbatim,
            arguments_size=size,
            arguments_hmac=digest,
            rule=why.rule if why is not None else None,
            reason=why.reason if why is not None else None,
        )

    def consent(self, ex: Exchange, decision: str, reason: str | None = None) -> None:
        """Record the human's consent to a call (or why there is none) as it is decided."""
        self._emit(ex, "consent", consent=decision, reason=reason, rule=ex.consent_rule)

    def guardrail(self, ex: Exchange, report: Report, listed: Route | None = None) -> None:
        """Record what a guardrail did to a call's arguments or result, or to the definition of
        the `listed` tool in a listing: its name, action, stage and what it found (never the
        text).

        Raises:
            AuditUnavailable: the trail cannot be written and fails closed.
        """
        self.telemetry.metrics.guardrail_finding(report.guardrail, report.stage, report.action)
        self._emit(
            ex,
            "guardrail",
            **({"name": listed.subject, "service": listed.namespace} if listed else {}),
            guardrail=report.guardrail,
            action=report.action,
            stage=report.stage,
            reason=report.reason,
        )

    def reply(self, ex: Exchange, outcome: str, code: int | None) -> AuditUnavailable | None:
        """Record how a request ended; a request never recorded on arrival gets that first.
        Returns the refusal to send instead of the answer when the record could not be
        written (failing closed)."""
        try:
            if not ex.audited:
                self.call(ex, None)
            self._reply(ex, outcome, code)
        except AuditUnavailable as exc:
            return exc
        return None

    async def settle(self, ex: Exchange) -> AuditUnavailable | None:
        """Wait until the exchange's records are as durable as the sinks promise (fsync
        `always`: on disk); returns the refusal to send instead when they cannot be."""
        try:
            await self.audit.settle()
        except AuditUnavailable as exc:
            return exc
        return None

    def refusal(self, status: int, code: int, reason: str, peer: str | None) -> None:
        """Record an HTTP request refused before the dispatcher saw it (401, 403, 400). The
        record holds why, never the token."""
        event = AuditEvent(
            event="refused",
            time=time.time(),
            correlation_id=str(next_id()),
            principal=engine.ANONYMOUS + "?",
            method="http",
            decision="deny",
            reason=reason,
            outcome="denied",
            error_code=code,
            http_status=status,
            peer=peer,
        )
        with contextlib.suppress(AuditUnavailable):  # the request is refused either way
            self.audit.emit(event)

    def _reply(self, ex: Exchange, outcome: str, code: int | None) -> None:
        seconds = time.perf_counter() - ex.started
        self.telemetry.on_reply(ex, outcome, code, seconds)
        duration_ms = round(seconds * 1000, 3)
        self._emit(
            ex,
            "reply",
            outcome=outcome,
            error_code=code,
            rate_limit=ex.rate_limit,
            duration_ms=duration_ms,
        )

    def _emit(self, ex: Exchange, event: str, **fields: Any) -> None:
        """Emit one audit record with the fields every record of an exchange carries."""
        route = ex.route
        if route is not None:
            fields.setdefault("name", route.subject)
            fields.setdefault("service", route.namespace)
        self.audit.emit(
            AuditEvent(
                event=event,
                time=time.time(),
                correlation_id=str(ex.correlation),
                principal=principal_name(ex.client),
                method=ex.method,
                **fields,
            )
        )


def principal_name(client: ClientSession) -> str:
    """Who the client is, for the trail; an unauthenticated one is `anonymous?`."""
    return client.principal.name if client.principal is not None else engine.ANONYMOUS + "?"


def outcome_of(exc: McpError) -> str:
    """How a request refused with `exc` ended, for the trail: a refusal for want of the limits'
    store is `limited` too, so it does not count as the service failing."""
    if isinstance(exc, PolicyDenied | Unauthenticated):
        return "denied"
    return "limited" if isinstance(exc, RateLimited | RateLimitUnavailable) else "error"
