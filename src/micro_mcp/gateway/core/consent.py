"""The human's consent to a call, asked through MCP elicitation before the call runs.

`Consent.obtain(ex, route)` is the one entry: it returns None once the call may go on, returns
the `input_required` result to answer a 2026-07-28 client with (the question; the client calls
again with the answer), or raises `ConsentRefused`. A handshake-era client is asked with an
`elicitation/create` request inside the call. Every decision goes to the audit trail as a
`consent` record. Approvals are remembered (`GrantStore`) per handshake-era session, or per
principal for 2026-07-28 clients, which have no session.

Which calls need consent is the config's `consent.tools` today (`required`); a rule whose effect
is `consent` calls `obtain` the same way.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any, Final, NoReturn, Protocol

import orjson

from micro_mcp import codes
from micro_mcp.audit.events import fingerprint
from micro_mcp.config.consent import ConsentSpec
from micro_mcp.errors import ConsentRefused, McpError
from micro_mcp.gateway.clients.outbound import ask, cannot_ask
from micro_mcp.gateway.core.consent_seal import PREFIX, Expired, Forged, Sealer
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.trail import Trail
from micro_mcp.policy.model import Policy
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.versions import Era
from micro_mcp.registry.catalog import Route

INPUT_KEY: Final = "micro-mcp/consent"
"""The gateway's key in a 2026-07-28 call's `inputRequests` and `inputResponses`."""

MAX_FIELDS: Final = 8
"""Arguments named in the question; more are counted, not shown."""
PREVIEW_CHARS: Final = 60
"""Characters of an argument's JSON shown in the question before it is cut."""
MAX_GRANTS: Final = 65_536
"""Remembered approvals and spent nonces kept in memory at most; the oldest go first."""

_SECRET: Final = re.compile(r"pass|secret|token|key|auth|credential|cookie|session", re.I)
"""Argument names whose values are never shown, only their size."""
_UNSAFE: Final = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
"""Characters JSON leaves as they are that can break a line or reorder text on screen."""
_FORM_ANSWERED_SINCE: Final = "2025-11-25"
"""The first handshake version whose elicitation requests carry `mode`."""


class GrantStore(Protocol):
    """Remembered approvals and spent consent states; what replicas would share."""

    def holds(self, key: str, now: float) -> bool:
        """Whether an approval under `key` stands at `now`."""
        ...

    def put(self, key: str, until: float, now: float) -> None:
        """Remember an approval under `key` until `until`."""
        ...

    def spend(self, nonce: str, until: float, now: float) -> bool:
        """Mark a consent state used; False if it already was."""
        ...


class MemoryGrants:
    """A `GrantStore` in this process: bounded, expired entries dropped as it fills."""

    __slots__ = ("_grants", "_spent")

    def __init__(self) -> None:
        self._grants: dict[str, float] = {}
        self._spent: dict[str, float] = {}

    def holds(self, key: str, now: float) -> bool:
        """Whether an approval under `key` stands at `now`."""
        until = self._grants.get(key)
        return until is not None and until > now

    def put(self, key: str, until: float, now: float) -> None:
        """Remember an approval under `key` until `until`."""
        _bounded(self._grants, now)
        self._grants.pop(key, None)  # re-inserted last: the oldest goes first when full
        self._grants[key] = until

    def spend(self, nonce: str, until: float, now: float) -> bool:
        """Mark a consent state used; False if it already was."""
        if nonce in self._spent:
            return False
        _bounded(self._spent, now)
        self._spent[nonce] = until
        return True


def _bounded(entries: dict[str, float], now: float) -> None:
    """Make room when full: the expired go, then the oldest down to three quarters, so a full
    store is swept once per quarter of its size, not on every insertion."""
    if len(entries) < MAX_GRANTS:
        return
    for key in [k for k, until in entries.items() if until <= now]:
        del entries[key]
    for key in list(entries)[: max(0, len(entries) - MAX_GRANTS * 3 // 4)]:
        del entries[key]


class Consent:
    """Asks the human before calls that need it, and remembers the answers."""

    __slots__ = ("_clock", "_grants", "_sealer", "_tools", "spec", "trail")

    def __init__(
        self,
        spec: ConsentSpec,
        trail: Trail,
        *,
        key: bytes | None = None,
        grants: GrantStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.trail = trail
        self._tools = Policy(allow=spec.tools) if spec.tools else None
        self._sealer = Sealer(key)
        self._grants: GrantStore = grants if grants is not None else MemoryGrants()
        self._clock = clock

    def reconfigured(self, spec: ConsentSpec) -> Consent:
        """This consent under `spec` (a config reload): the same sealing key, so questions
        asked before stay answerable, and the approvals given so far."""
        if spec == self.spec:
            return self
        changed = Consent(spec, self.trail, grants=self._grants, clock=self._clock)
        changed._sealer = self._sealer
        return changed

    def required(self, route: Route) -> bool:
        """Whether the config's `consent.tools` name this route's subject."""
        return self._tools is not None and self._tools.allows(route.subject)

    async def obtain(self, ex: Exchange, route: Route) -> dict[str, Any] | None:
        """Get the human's consent to the call of `ex` on `route`.

        Returns None when the call may go on (its params then carry none of the gateway's own
        answer), or the `input_required` result to answer a 2026-07-28 client with.

        Raises:
            ConsentRefused: declined, cancelled, not answered in time, not askable, or a
                consent state that is forged, expired, replayed or for another call.
        """
        principal = ex.client.principal
        assert principal is not None, "the dispatcher authenticates before it routes"
        arguments = ex.params.get("arguments")
        digest = fingerprint(arguments if arguments is not None else {})[1]
        now = self._clock()
        if ex.client.era is Era.MODERN:
            asked = self._modern(ex, route, principal.name, digest, now)
            if asked is not None:
                return asked
        else:
            await self._handshake(ex, route, digest, now)
        ex.consented = True
        return None

    def carry(self, ex: Exchange, route: Route, result: dict[str, Any]) -> None:
        """After a consented call: a 2026-07-28 service's own `input_required` round goes to
        the client with its `requestState` sealed inside the gateway's, so the call resumes
        under the same approval, and only as that call (the service gets its state back
        untouched)."""
        principal = ex.client.principal
        if (
            ex.client.era is not Era.MODERN
            or principal is None
            or result.get("resultType") != "input_required"
        ):
            return
        arguments = ex.params.get("arguments")
        digest = fingerprint(arguments if arguments is not None else {})[1]
        inner = result.get("requestState")
        result["requestState"] = self._sealer.seal(
            principal.name,
            route.subject,
            digest,
            self._clock() + self.spec.timeout,
            resume=True,
            inner=inner if isinstance(inner, str) else None,
        )

    # --- handshake era: a request to the client inside the call ------------------------------

    async def _handshake(self, ex: Exchange, route: Route, digest: str, now: float) -> None:
        client = ex.client
        remembered = self._key("session", client.id, route.subject, digest)
        if self._grants.holds(remembered, now):
            self.trail.consent(ex, "remembered")
            return
        refusal = cannot_ask(client, "elicitation/create") or _no_form(client.capabilities)
        if refusal is not None:
            self._refuse(ex, route, "unavailable", f"it could not be asked: {refusal}")
        question = self._question(
            ex, route, with_mode=(client.version or "") >= _FORM_ANSWERED_SINCE
        )
        try:
            answer = await ask(
                client, "elicitation/create", question, ex.request_id, self.spec.timeout
            )
        except McpError as exc:
            decision = "timeout" if exc.code == codes.UPSTREAM_TIMEOUT else "unavailable"
            self._refuse(ex, route, decision, f"it could not be asked: {exc.message}")
        self._decide(ex, route, answer, remembered, self._clock())

    # --- 2026-07-28: an input_required result, and the call again with the answer ------------

    def _modern(
        self, ex: Exchange, route: Route, principal: str, digest: str, now: float
    ) -> dict[str, Any] | None:
        state = ex.params.get("requestState")
        remembered = self._key("principal", principal, route.subject, digest)
        if isinstance(state, str) and state.startswith(PREFIX):
            self._answered(ex, route, state, principal, digest, remembered, now)
            return None
        if self._grants.holds(remembered, now):
            self.trail.consent(ex, "remembered")
            return None
        refusal = _no_form(ex.client.capabilities, modern=True)
        if refusal is not None:
            self._refuse(ex, route, "unavailable", f"it could not be asked: {refusal}")
        sealed = self._sealer.seal(principal, route.subject, digest, now + self.spec.timeout)
        self.trail.consent(ex, "asked")
        request = {"method": "elicitation/create", "params": self._question(ex, route)}
        return {
            "resultType": "input_required",
            "inputRequests": {INPUT_KEY: request},
            "requestState": sealed,
        }

    def _answered(
        self,
        ex: Exchange,
        route: Route,
        state: str,
        principal: str,
        digest: str,
        remembered: str,
        now: float,
    ) -> None:
        try:
            claim = self._sealer.open(state, now)
        except (Forged, Expired) as exc:
            self._refuse(ex, route, "invalid", str(exc))
        if (claim.principal, claim.tool, claim.arguments) != (principal, route.subject, digest):
            self._refuse(ex, route, "invalid", "the consent state was given for another call")
        if not self._grants.spend(claim.nonce, claim.expires, now):
            self._refuse(ex, route, "invalid", "the consent state was already used")
        params = dict(ex.params)
        if claim.resume:  # a service's own round of an approved call: its state, untouched
            if claim.inner is None:
                del params["requestState"]
            else:
                params["requestState"] = claim.inner
            ex.params = params
            self.trail.consent(ex, "resumed")
            return
        responses = dict(jsonrpc.as_object(params.get("inputResponses")) or {})
        answer = jsonrpc.as_object(responses.pop(INPUT_KEY, None))
        self._decide(ex, route, answer, remembered, now)
        del params["requestState"]
        if responses:
            params["inputResponses"] = responses
        else:
            params.pop("inputResponses", None)
        ex.params = params

    # --- shared -----------------------------------------------------------------------------

    def _decide(
        self,
        ex: Exchange,
        route: Route,
        answer: dict[str, Any] | None,
        remembered: str,
        now: float,
    ) -> None:
        action = answer.get("action") if answer is not None else None
        if action == "accept":
            content = jsonrpc.as_object(answer.get("content")) if answer is not None else None
            if content is not None and content.get("approve") is True:
                if self.spec.remember_seconds > 0:
                    self._grants.put(remembered, now + self.spec.remember_seconds, now)
                self.trail.consent(ex, "granted")
                return
            self._refuse(ex, route, "declined", "the human did not approve it")
        if action == "decline":
            self._refuse(ex, route, "declined", "the human declined it")
        if action == "cancel":
            self._refuse(ex, route, "cancelled", "the human dismissed the question")
        self._refuse(ex, route, "invalid", "the call did not carry an answer to the question")

    def _refuse(self, ex: Exchange, route: Route, decision: str, why: str) -> NoReturn:
        self.trail.consent(ex, decision, why)
        verb = "was declined" if decision in ("declined", "cancelled") else "was not given"
        raise ConsentRefused(
            f"Consent to call {route.subject} {verb}: {why}",
            data={"reason": decision, "tool": route.subject},
        )

    def _key(self, kind: str, who: str, tool: str, digest: str) -> str:
        scope = digest if self.spec.remember == "arguments" else ""
        return orjson.dumps([kind, who, tool, scope]).decode()

    def _question(self, ex: Exchange, route: Route, *, with_mode: bool = True) -> dict[str, Any]:
        name = ex.params.get("name", route.subject)
        message = (
            f"Allow the tool {_json(name)} on service {_json(route.namespace)} to run?\n"
            f"Arguments:\n{summarize(ex.params.get('arguments'))}"
        )
        question: dict[str, Any] = {
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": {
                    "approve": {
                        "type": "boolean",
                        "title": "Approve this call",
                        "description": f"Run {route.subject} with the arguments shown",
                        "default": False,
                    }
                },
                "required": ["approve"],
            },
        }
        if with_mode:
            question = {"mode": "form", **question}
        return question


def summarize(arguments: Any) -> str:
    """The arguments as the human reads them: at most `MAX_FIELDS` names, each value's JSON
    cut to `PREVIEW_CHARS`, and values under secret-looking names replaced by their size."""
    given = jsonrpc.as_object(arguments)
    if not given:
        return "  (none)"
    lines: list[str] = []
    items = list(given.items())
    for key, value in items[:MAX_FIELDS]:
        label = str(key)[:40]
        text = _json(value)
        if _SECRET.search(label):
            shown = f"(hidden, {len(text)} characters)"
        elif len(text) > PREVIEW_CHARS:
            shown = f"{text[:PREVIEW_CHARS]}… ({len(text)} characters)"
        else:
            shown = text
        lines.append(f"  {_json(label)}: {shown}")
    if len(items) > MAX_FIELDS:
        lines.append(f"  … and {len(items) - MAX_FIELDS} more")
    return "\n".join(lines)


def _json(value: Any) -> str:
    """`value` as JSON on one line, with the characters that could redraw the question (line
    and paragraph separators, C1 controls, bidirectional overrides) escaped too."""
    try:
        text = orjson.dumps(value, default=str).decode()
    except orjson.JSONEncodeError:  # integers past 64 bits (orjson's own parser never makes them)
        text = json.dumps(value, default=str, ensure_ascii=False)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _no_form(capabilities: dict[str, Any], *, modern: bool = False) -> str | None:
    """Why the client cannot take a form-mode elicitation, or None when it can."""
    modes = jsonrpc.as_object(capabilities.get("elicitation"))
    if modes is None:
        return (
            "the client did not declare the 'elicitation' capability"
            if modern
            else None  # `cannot_ask` has the say on a handshake-era client
        )
    if "url" in modes and "form" not in modes:
        return "the client takes only URL-mode elicitation"
    return None
