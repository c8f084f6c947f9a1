"""The `guardrails` section of the gateway config: checks on calls' arguments, results and tool
definitions, in order, each scoped to tools by glob. Off unless checks are listed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["secrets", "pii", "injection"]
"""The guardrails the gateway ships: `secrets` (API keys, private keys, tokens: detect-secrets'
detectors and the gateway's own shapes), `pii` (Presidio's pattern recognizers: needs the `pii`
extra), `injection` (phrases that address the model rather than the user)."""
Stage = Literal["arguments", "result", "listing"]
"""Where a check runs: on a `tools/call`'s arguments before the service sees them, on the result
of a `tools/call`, `prompts/get` or `resources/read` before the client does, or on a tool's
definition (description, title, schema descriptions) before a listing shows it."""
Action = Literal["redact", "block", "flag"]
"""What a finding does: `redact` replaces the text found by `[REDACTED:kind]` (arguments and
results only), `block` refuses the call with -32031, `flag` lets it pass and reports it (log,
metric, audit record)."""

DEFAULT_STAGES: dict[Kind, tuple[Stage, ...]] = {
    "secrets": ("arguments", "result"),
    "pii": ("result",),
    "injection": ("listing", "result"),
}
"""Where each kind runs when a check does not say."""
DEFAULT_ACTIONS: dict[Kind, Action] = {"secrets": "redact", "pii": "redact", "injection": "flag"}
"""What each kind does when a check does not say."""
PII_ENTITIES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS")
"""The Presidio entities the `pii` check looks for unless it names others."""


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class CheckSpec(_Frozen):
    """One guardrail in the pipeline."""

    use: Kind
    """Which guardrail: `secrets`, `pii` or `injection`."""
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    """Its name in errors, audit records and the `guardrail` metric label; `use` by default.
    Two checks of the same kind need names of their own."""
    action: Action | None = None
    """`redact`, `block` or `flag`; by default `redact` for `secrets` and `pii`, `flag` for
    `injection`."""
    on: tuple[Stage, ...] | None = None
    """The stages it runs at; by default `arguments` and `result` for `secrets`, `result` for
    `pii`, `listing` and `result` for `injection`."""
    tools: tuple[str, ...] = ("*",)
    """Glob patterns over canonical subjects (as in `policy`: `namespace.name` for tools and
    prompts, `namespace.uri` for resources): `fs.*` is one service, `web.fetch` one tool. The
    check runs on matching subjects only."""
    entities: tuple[str, ...] = PII_ENTITIES
    """`pii` only: the Presidio entity types to find."""
    threshold: float = Field(default=0.4, ge=0, le=1)
    """`pii` only: the lowest Presidio score that counts as a finding (a phone number with no
    context words around it scores 0.4)."""

    @property
    def label(self) -> str:
        """The check's name: `name`, else `use`."""
        return self.name or self.use

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The stages it runs at, defaults applied."""
        return self.on if self.on is not None else DEFAULT_STAGES[self.use]

    @property
    def verdict(self) -> Action:
        """Its action, defaults applied."""
        return self.action if self.action is not None else DEFAULT_ACTIONS[self.use]

    @model_validator(mode="after")
    def _listing_is_not_rewritten(self) -> CheckSpec:
        if self.verdict == "redact" and "listing" in self.stages:
            raise ValueError(
                f"{self.label}: `redact` does not apply to `listing` (definitions are never "
                "rewritten); use `flag` or `block` there"
            )
        return self


class GuardrailsSpec(_Frozen):
    """Checks on what passes through the gateway, run in the order listed."""

    checks: tuple[CheckSpec, ...] = ()
    """The pipeline, in order; empty (the default) runs nothing and costs a call nothing."""
    max_scan_bytes: int = Field(default=1024 * 1024, ge=1024, alias="maxScanBytes")
    """The most text (UTF-8 bytes, roughly) one payload may hold for the checks to scan it; a
    larger one is `unscannable`."""
    timeout: float = Field(default=2.0, gt=0)
    """Seconds the checks of one payload may take (larger payloads and Presidio run in a worker
    thread); past it the payload is `unscannable`."""
    unscannable: Literal["block", "flag"] = "block"
    """What happens to a payload the checks cannot scan (too large, nested too deep, too slow):
    `block` refuses the call (-32031, guardrail `unscannable`), `flag` lets it pass and reports
    it."""

    @model_validator(mode="after")
    def _unique_names(self) -> GuardrailsSpec:
        seen: set[str] = set()
        for index, check in enumerate(self.checks):
            if check.label in seen:
                raise ValueError(
                    f"checks[{index}].name: duplicate {check.label!r}; give each check of "
                    "the same kind a name of its own"
                )
            seen.add(check.label)
        return self
