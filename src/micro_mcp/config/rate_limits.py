"""The `rateLimits` section of the gateway config: rules, where their counters live, and what
happens when that store cannot be reached.

```json
"rateLimits": {
  "rules": [
    {"id": "everyone", "rate": "120/minute"},
    {"id": "fs-quota", "subjects": ["fs.*"], "rate": "10000/day", "per": ["principal", "service"]},
    {"id": "interns", "groups": ["interns"], "subjects": ["http.fetchText"], "rate": "5/minute"}
  ]
}
```

A rate is the `limits` library's notation (`100/minute`, `10 per second`, `10000/day`; several
joined by `;`). A quota is a rate with a long window. Every rule that applies to a call is
counted; the first one over its rate refuses it.
"""

from __future__ import annotations

import re
from typing import Literal

from limits import parse_many
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULE_ID: re.Pattern[str] = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""What a rule id looks like: it names the rule in the audit trail and in a metric label."""
STORAGE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://")
"""The stores a `storage` URL may name (each also with the `limits` library's `async+` form)."""

Per = Literal["principal", "service", "name"]
"""What can get a counter of its own."""


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class RateLimitRule(_Frozen):
    """One limit: whom and what it applies to, the rate, and what gets a counter of its own."""

    id: str
    """The rule's name in the audit trail (`rate_limit`) and the `rule` label of metrics."""
    rate: str
    """`100/minute`, `10 per second`, `10000/day`; several joined by `;` are each enforced."""
    principals: tuple[str, ...] = ()
    """Principal names it applies to; with `groups` empty too, it applies to every principal."""
    groups: tuple[str, ...] = ()
    """Groups it applies to (a principal in any of them)."""
    subjects: tuple[str, ...] = ("*",)
    """Globs over canonical names, as in policies: `fs.*` is the whole `fs` service,
    `fs.readFileText` one tool (or prompt), `fs.file:///*` resources. Counted are
    `tools/call`, `prompts/get` and `resources/read`."""
    per: tuple[Per, ...] = ("principal",)
    """What gets a counter of its own: `principal`, `service`, `name` (the tool, prompt or
    resource URI called), in any combination; `[]` is one counter shared by every caller."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError("use 1-64 characters of A-Z, a-z, 0-9, '_', '.', '-'")
        return value

    @field_validator("rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(
                f"{value!r} is not a rate: write it as '100/minute', '10 per second' or "
                "'10000/day' (several joined by ';')"
            ) from exc
        return value

    @field_validator("per")
    @classmethod
    def _per(cls, value: tuple[Per, ...]) -> tuple[Per, ...]:
        if len(set(value)) != len(value):
            raise ValueError("names a scope twice")
        return value


class RateLimitsSpec(_Frozen):
    """Rate limits and quotas on calls, per principal, service and name, as each rule says."""

    rules: tuple[RateLimitRule, ...] = ()
    """The limits; none (the default) costs a call nothing."""
    storage: str = "memory://"
    """Where the counters live: `memory://` (this process alone) or a Redis URL
    (`redis://host:6379/0`, `rediss://...`, `redis+unix:///path`), shared by every gateway that
    names it."""
    strategy: Literal["fixed-window", "sliding-window-counter", "moving-window"] = "fixed-window"
    """How windows are counted (the `limits` library's strategies): `fixed-window` (a window
    starts with its first call; the cheapest), `sliding-window-counter` (smoother, an
    approximation), `moving-window` (exact, but keeps every call of the window)."""
    failure_mode: Literal["closed", "open"] = Field(default="closed", alias="failureMode")
    """When the store cannot be reached: `closed` refuses limited calls (`-32017`, HTTP 503);
    `open` lets them through uncounted, with a warning in the log and a metric."""
    timeout: float = Field(default=0.5, gt=0, le=30)
    """Seconds to connect to, or wait on, the store before it counts as unreachable."""
    key_prefix: str = Field(default="micro-mcp", min_length=1, alias="keyPrefix")
    """Prefix of the store's keys, so gateways of different deployments sharing one Redis keep
    apart (gateways that share limits use the same prefix and rule ids)."""

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.removeprefix("async+").startswith(STORAGE_SCHEMES):
            raise ValueError(f"{value!r}: use memory:// or a redis://, rediss:// URL")
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> RateLimitsSpec:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules[{index}].id: duplicate {rule.id!r}")
            seen.add(rule.id)
        return self
