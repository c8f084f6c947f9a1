"""The whole exception tree of micro-mcp.

    MicroMcpError
    ├─ ConfigError              start-up only; printed for the operator, never sent on the wire
    │  └─ PinStoreError         the pin store is unreadable or fails its checks
    └─ McpError(code, message)  the only exception serialized as a JSON-RPC error
       ├─ PolicyDenied
       │  ├─ ConsentRefused     the human did not consent, or could not be asked
       │  ├─ GuardrailBlocked   a guardrail blocked a call's arguments, its result or the tool
       │  └─ InsufficientScope  an OAuth token lacks a required scope (HTTP 403)
       ├─ Unauthenticated       no credential (HTTP 401)
       │  └─ InvalidToken       a credential was presented and refused (401, invalid_token)
       ├─ UnknownName
       ├─ Held                  a pinned definition changed and waits for approval
       ├─ UpstreamUnavailable
       ├─ UpstreamTimeout
       ├─ Overloaded
       ├─ RateLimited
       ├─ RateLimitUnavailable
       ├─ StateUnavailable     the state replicas share (Redis) cannot be reached (HTTP 503)
       ├─ AuditUnavailable      the audit trail cannot be written; calls fail closed
       ├─ MessageTooLarge
       └─ UpstreamError         the upstream answered with an error; its payload passes through

Everything raised inside the gateway for a client request ends as one of the `McpError`s at the
dispatcher's single error boundary.
"""

from __future__ import annotations

from typing import Any, cast

from micro_mcp import codes


class MicroMcpError(Exception):
    """Base of every error micro-mcp raises on purpose."""


class ConfigError(MicroMcpError):
    """A manifest or config file is unusable; the message names the file, the path and the fault."""


class McpError(MicroMcpError):
    """An error that becomes a JSON-RPC error object on the wire."""

    code: int = codes.INTERNAL_ERROR

    def __init__(self, message: str, *, code: int | None = None, data: Any = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.data = data

    def to_error(self) -> dict[str, Any]:
        """The JSON-RPC `error` member for this exception."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class PolicyDenied(McpError):
    """The principal's policy does not allow this name."""

    code = codes.POLICY_DENIED


class ConsentRefused(PolicyDenied):
    """The call needs the human's consent and did not get it; the service never saw it."""

    code = codes.CONSENT_REFUSED


class GuardrailBlocked(PolicyDenied):
    """A guardrail blocked a call: its arguments (never sent), its result (never returned), or
    the tool's definition. `data` names the guardrail, the stage and the reason."""

    code = codes.GUARDRAIL_BLOCKED

    def __init__(self, guardrail: str, stage: str, reason: str) -> None:
        super().__init__(
            f"Blocked by guardrail {guardrail!r} ({stage}): {reason}",
            data={"guardrail": guardrail, "stage": stage, "reason": reason},
        )
        self.guardrail = guardrail
        self.stage = stage
        self.reason = reason


class Unauthenticated(McpError):
    """The caller did not present the gateway's token."""

    code = codes.UNAUTHENTICATED


class InsufficientScope(PolicyDenied):
    """A valid OAuth token lacks scopes the gateway requires; `scopes` are the ones to ask for."""

    def __init__(self, message: str, scopes: tuple[str, ...]) -> None:
        super().__init__(message)
        self.scopes = scopes


class InvalidToken(Unauthenticated):
    """A bearer token was presented and refused: malformed, expired, not for this gateway, or
    signed by a key the issuer does not publish. The message says which, for the client."""


class UnknownName(McpError):
    """No service owns this tool, prompt or resource (the spec's invalid-params error)."""

    code = codes.INVALID_PARAMS


class PinStoreError(ConfigError):
    """The pin store cannot be read or written, or a record in it fails its checks; the message
    names the file and what to do. Never passed over in silence: approvals are security state."""


class Held(McpError):
    """A tool or prompt is held back by pinning until an operator approves its definition."""

    code = codes.TOOL_HELD


class UpstreamUnavailable(McpError):
    """The owning service is not running or its connection broke."""

    code = codes.UPSTREAM_UNAVAILABLE


class UpstreamTimeout(McpError):
    """The owning service did not answer within its timeout."""

    code = codes.UPSTREAM_TIMEOUT


class Overloaded(McpError):
    """The service's call limit and queue are full: a fast refusal instead of unbounded waiting."""

    code = codes.OVERLOADED


class RateLimited(McpError):
    """The caller is over a rate limit or quota; `data` says when to retry."""

    code = codes.RATE_LIMITED

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, data={"retryAfter": retry_after})
        self.retry_after = retry_after


class RateLimitUnavailable(McpError):
    """The rate-limit store cannot be reached, and limited calls fail closed."""

    code = codes.RATE_LIMIT_UNAVAILABLE


class StateUnavailable(McpError):
    """The store replicas share state through cannot be reached or failed."""

    code = codes.STATE_UNAVAILABLE


class AuditUnavailable(McpError):
    """The audit trail cannot be written, and calls fail closed until it can."""

    code = codes.AUDIT_UNAVAILABLE


class MessageTooLarge(McpError):
    """A message from a service grew past the size limit; it was dropped, not held."""

    code = codes.MESSAGE_TOO_LARGE


class UpstreamError(McpError):
    """The upstream answered with a JSON-RPC error; `error` is its payload, passed on unchanged."""

    def __init__(self, error: dict[str, Any]) -> None:
        code = error.get("code")
        super().__init__(
            str(error.get("message", "upstream error")),
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
            data=error.get("data"),
        )
        self.error = error

    def to_error(self) -> dict[str, Any]:
        """The upstream's own error object."""
        return self.error


def leaf(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first exception in a (nested) group: task groups wrap even a single failure."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        # isinstance() cannot recover the member type; every group member is a BaseException.
        exc = cast("BaseExceptionGroup[BaseException]", exc).exceptions[0]
    return exc
