"""The `rules` section of the gateway config: who may use which tools, resources and prompts,
and on what conditions of the call.

The shapes are checked here; the conditions are compiled by the policy engine when the gateway
starts (`policy.rules.compile_rules`), which names the rule of any condition it cannot compile.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RULE_ID: re.Pattern[str] = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
"""What a rule id may look like: short and safe in an audit line and a log."""


class RuleSpec(BaseModel):
    """One rule: an effect on the calls of some callers to some tools, resources or prompts.

    A rule applies to a caller named in `principals`, in one of `groups` or granted one of
    `scopes` (no such key: every caller), and to the tools, resources and prompts its patterns
    match (globs over canonical subjects: `fs.readFileText`, `fs.file:///docs/*`, `fs.*`).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    id: str
    """Names the rule in audit records, errors and logs; unique in the config."""
    effect: Literal["allow", "deny", "consent"]
    """`allow`, `deny`, or `consent`: allowed once the human approves the call, asked through
    MCP elicitation (see the `consent` section for how long an approval lasts). A deny that
    applies wins over both; a consent that applies wins over an allow."""
    principals: tuple[str, ...] = ()
    """Principal names the rule applies to."""
    groups: tuple[str, ...] = ()
    """Groups the rule applies to (a principal's configured groups, or a token's)."""
    scopes: tuple[str, ...] = ()
    """OAuth scopes the rule applies to (a token granted any of them)."""
    tools: tuple[str, ...] = ()
    """Globs over canonical tool names (`fs.readFileText`, `fs.*`)."""
    resources: tuple[str, ...] = ()
    """Globs over canonical resource URIs (`fs.file:///docs/*`; the exposed form
    `fs+file:///docs/*` is accepted too), matched after the URI is normalised. They match
    resource templates by their template string too."""
    prompts: tuple[str, ...] = ()
    """Globs over canonical prompt names (`docs.summarize`)."""
    when: str | None = Field(default=None, min_length=1)
    """A CEL condition on the call (`args.path.startsWith("docs/")`); the rule applies only
    where it is true. Without it the rule applies to every call it matches."""

    @model_validator(mode="after")
    def _shape(self) -> RuleSpec:
        if RULE_ID.fullmatch(self.id) is None:
            raise ValueError(
                f"id {self.id!r}: use 1-64 characters of letters, digits and _ . : -, "
                "starting with a letter or digit"
            )
        if not (self.tools or self.resources or self.prompts):
            raise ValueError(
                f"rule {self.id!r} names no 'tools', 'resources' or 'prompts': it would match "
                "nothing"
            )
        if self.effect == "consent" and (self.resources or self.prompts):
            raise ValueError(
                f"rule {self.id!r}: consent is asked before tool calls only; name 'tools'"
            )
        return self


def unique_ids(rules: tuple[RuleSpec, ...]) -> None:
    """Refuse two rules with the same id, which would make the audit trail ambiguous.

    Raises:
        ValueError: an id is used twice.
    """
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.id in seen:
            raise ValueError(f"rules[{index}].id: duplicate {rule.id!r}")
        seen.add(rule.id)
