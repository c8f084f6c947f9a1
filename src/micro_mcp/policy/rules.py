"""Authorization rules: who may use which tools, resources and prompts, on what conditions.

Compiled once from the config's `rules` (`compile_rules`), then asked two questions, both sync
and pure:

- `RuleView.lists(kind, subject)`: may the item be shown? Yes when an allow rule covers it and
  no deny rule without a condition does; an item allowed only on conditions is shown, and its
  calls are checked one by one.
- `RuleView.decide(kind, subject, call)`: may this call go through? A deny rule that covers it
  and whose condition holds (or fails to evaluate) denies; otherwise an allow rule that covers
  it and whose condition holds allows; otherwise it is denied, since once any rule exists what
  no rule allows is refused. Rule order does not matter.

So a call that `decide` allows is always an item that `lists` shows: the listing never hides
what a call may use, and hides everything no call may use.

`effect` is `allow`, `deny` or `consent`. A consent rule is an allow that asks first: where it
covers a call and its condition holds, the decision allows the call and says so (`consent`),
and the dispatcher asks the human through `gateway/core/consent.py` before the call runs. A
deny that applies wins over it, and it wins over an allow (an allow rule elsewhere never skips
the question); a consent condition that fails to evaluate denies, as a deny's does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import translate
from typing import Any, Literal

from micro_mcp.config.rules import RuleSpec
from micro_mcp.errors import ConfigError
from micro_mcp.policy.conditions import Condition, ConditionError
from micro_mcp.policy.model import Decision, Principal
from micro_mcp.protocol import names

Kind = Literal["tools", "resources", "prompts"]
"""What a rule's patterns are over."""


@dataclass(frozen=True, slots=True)
class Call:
    """What a condition reads of a call: its arguments, or the resource URI it reads."""

    args: Mapping[str, Any] | None = None
    """The call's arguments (`tools/call`, `prompts/get`)."""
    uri: str | None = None
    """The normalised URI, as the service knows it, on resource requests."""


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One compiled rule."""

    id: str
    effect: Literal["allow", "deny", "consent"]
    principals: frozenset[str]
    groups: frozenset[str]
    scopes: frozenset[str]
    patterns: Mapping[Kind, re.Pattern[str]]
    """Per kind, one regex for the rule's globs; a kind it does not name is absent."""
    condition: Condition | None

    def applies_to(self, principal: Principal) -> bool:
        """Whether the rule is about this caller (a rule that names no one is about everyone)."""
        if not (self.principals or self.groups or self.scopes):
            return True
        return (
            principal.name in self.principals
            or not self.groups.isdisjoint(principal.groups)
            or not self.scopes.isdisjoint(principal.scopes)
        )

    def covers(self, kind: Kind, subject: str) -> bool:
        """Whether one of the rule's patterns of `kind` matches `subject`."""
        pattern = self.patterns.get(kind)
        return pattern is not None and pattern.match(subject) is not None


@dataclass(frozen=True, slots=True)
class RuleView:
    """The rules that apply to one caller; hashable, so listings can be cached per view."""

    principal: Principal
    rules: tuple[Rule, ...]

    def lists(self, kind: Kind, subject: str) -> bool:
        """Whether the item may be shown: allowed by a rule, not denied outright by one."""
        allowed = False
        for rule in self.rules:
            if rule.covers(kind, subject):
                if rule.effect == "deny" and rule.condition is None:
                    return False
                allowed = allowed or rule.effect != "deny"
        return allowed

    def decide(self, kind: Kind, subject: str, call: Call | None) -> Decision:
        """The decision on a call; `call` None asks about the item as a listing does (for
        requests that use an item without calling it: completions, task follow-ups)."""
        covering = [rule for rule in self.rules if rule.covers(kind, subject)]
        if call is None:
            return self._listed(subject, covering)
        variables: dict[str, Any] | None = None
        for rule in covering:
            if rule.effect != "deny":
                continue
            if rule.condition is None:
                return Decision(False, subject, f"rule {rule.id!r} denies it", rule.id)
            variables = self._variables(subject, call, rule.condition.names, variables)
            holds, error = rule.condition.test(variables)
            if error is not None:
                reason = f"rule {rule.id!r} denies it: its condition failed ({error})"
                return Decision(False, subject, reason, rule.id)
            if holds:
                return Decision(
                    False, subject, f"rule {rule.id!r} denies it: condition holds", rule.id
                )
        for rule in covering:
            if rule.effect != "consent":
                continue
            if rule.condition is None:
                return Decision(True, subject, f"rule {rule.id!r} asks consent", rule.id, True)
            variables = self._variables(subject, call, rule.condition.names, variables)
            holds, error = rule.condition.test(variables)
            if error is not None:
                reason = f"rule {rule.id!r} asks consent, but its condition failed ({error})"
                return Decision(False, subject, reason, rule.id)
            if holds:
                reason = f"rule {rule.id!r} asks consent: condition holds"
                return Decision(True, subject, reason, rule.id, True)
        unmet: list[str] = []
        for rule in covering:
            if rule.effect != "allow":
                continue
            if rule.condition is None:
                return Decision(True, subject, f"rule {rule.id!r} allows it", rule.id)
            variables = self._variables(subject, call, rule.condition.names, variables)
            holds, error = rule.condition.test(variables)
            if holds:
                return Decision(
                    True, subject, f"rule {rule.id!r} allows it: condition holds", rule.id
                )
            unmet.append(
                f"{rule.id!r}: " + (f"condition failed ({error})" if error else "condition false")
            )
        if unmet:
            return Decision(False, subject, "no rule allows it (" + "; ".join(unmet) + ")")
        return Decision(False, subject, "no rule allows it (once rules exist, the default is deny)")

    def _listed(self, subject: str, covering: list[Rule]) -> Decision:
        for rule in covering:
            if rule.effect == "deny" and rule.condition is None:
                return Decision(False, subject, f"rule {rule.id!r} denies it", rule.id)
        for rule in covering:
            if rule.effect != "deny":
                return Decision(True, subject, f"rule {rule.id!r} lists it", rule.id)
        return Decision(False, subject, "no rule allows it (once rules exist, the default is deny)")

    def _variables(
        self, subject: str, call: Call, names: frozenset[str], built: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The variables a condition reads, built once per call and only when read: handing
        CEL a variable it does not read costs as much as evaluating it."""
        variables = built if built is not None else {}
        for name in names - variables.keys():
            if name == "args":
                variables[name] = call.args if call.args is not None else {}
            elif name == "uri":
                variables[name] = call.uri or ""
            elif name == "name":
                variables[name] = subject
            else:
                principal = self.principal
                variables[name] = {
                    "name": principal.name,
                    "groups": sorted(principal.groups),
                    "scopes": sorted(principal.scopes),
                }
        return variables


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every compiled rule of the config."""

    rules: tuple[Rule, ...]

    def view(self, principal: Principal) -> RuleView:
        """The rules that apply to `principal`."""
        return RuleView(principal, tuple(r for r in self.rules if r.applies_to(principal)))


def compile_rules(specs: tuple[RuleSpec, ...]) -> RuleSet | None:
    """Compile the config's rules; None when there are none (then nothing is checked).

    Raises:
        ConfigError: a condition is not valid CEL; the message names the rule.
    """
    if not specs:
        return None
    return RuleSet(tuple(_compile(index, spec) for index, spec in enumerate(specs)))


def _compile(index: int, spec: RuleSpec) -> Rule:
    condition = None
    if spec.when is not None:
        try:
            condition = Condition.compile(spec.when)
        except ConditionError as exc:
            raise ConfigError(f"rules[{index}] (id {spec.id!r}): when: {exc}") from None
    globs: dict[Kind, tuple[str, ...]] = {
        "tools": spec.tools,
        "resources": tuple(_canonical_uri(p) for p in spec.resources),
        "prompts": spec.prompts,
    }
    patterns: dict[Kind, re.Pattern[str]] = {
        kind: re.compile("|".join(f"(?:{translate(p)})" for p in found))
        for kind, found in globs.items()
        if found
    }
    return Rule(
        spec.id,
        spec.effect,
        frozenset(spec.principals),
        frozenset(spec.groups),
        frozenset(spec.scopes),
        patterns,
        condition,
    )


def _canonical_uri(pattern: str) -> str:
    """`fs+file:///x*` (the exposed form) as the canonical `fs.file:///x*`."""
    split = names.split_uri(pattern)
    return names.subject(*split) if split is not None else pattern
