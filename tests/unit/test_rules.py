"""Authorization rules in memory: rule tables, conditions on arguments, and listings that agree
with calls on any arguments."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp.config.model import GatewayConfig
from micro_mcp.config.rules import RuleSpec
from micro_mcp.errors import ConfigError
from micro_mcp.policy.engine import evaluate
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.policy.rules import Call, Kind, RuleSet, compile_rules
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

ALICE = Principal("alice", Policy(), groups=frozenset({"docs-team"}))
BOB = Principal("bob", Policy(), scopes=frozenset({"fetch"}))
EVE = Principal("eve", Policy())

DOCS_ONLY = 'path(args.path).startsWith("docs/")'
EXAMPLE_HOSTS = 'glob(host(args.url), "*.example.com")'
NO_PRIVATE = 'uri.startsWith("file:///private/") || (has(args.path) && under(args.path, "private"))'


def rules(*specs: dict[str, Any]) -> RuleSet:
    compiled = compile_rules(tuple(RuleSpec.model_validate(s) for s in specs))
    assert compiled is not None
    return compiled


TABLE = rules(
    {
        "id": "read-docs",
        "effect": "allow",
        "groups": ["docs-team"],
        "tools": ["fs.readFileText"],
        "when": DOCS_ONLY,
    },
    {"id": "list-dir", "effect": "allow", "tools": ["fs.listDir"]},
    {
        "id": "fetch-example",
        "effect": "allow",
        "scopes": ["fetch"],
        "tools": ["http.fetchText"],
        "when": EXAMPLE_HOSTS,
    },
    {"id": "docs-files", "effect": "allow", "resources": ["fs+file:///docs/*"]},
    {
        "id": "no-private",
        "effect": "deny",
        "tools": ["fs.*"],
        "resources": ["fs.*"],
        "when": NO_PRIVATE,
    },
    {"id": "no-writes", "effect": "deny", "tools": ["fs.write*"]},
    {"id": "prompts-for-bob", "effect": "allow", "principals": ["bob"], "prompts": ["*"]},
)


def decide(who: Principal, kind: Kind, subject: str, call: Call | None) -> tuple[bool, str | None]:
    decision = TABLE.view(who).decide(kind, subject, call)
    return decision.allowed, decision.rule


@pytest.mark.parametrize(
    ("who", "kind", "subject", "call", "allowed", "rule"),
    [
        # A path rule: only under docs/, however the path is spelled.
        (ALICE, "tools", "fs.readFileText", Call({"path": "docs/a.md"}), True, "read-docs"),
        (ALICE, "tools", "fs.readFileText", Call({"path": "./docs/a.md"}), True, "read-docs"),
        (ALICE, "tools", "fs.readFileText", Call({"path": "src/a.py"}), False, None),
        (ALICE, "tools", "fs.readFileText", Call({"path": "docs/../src/a.py"}), False, None),
        (ALICE, "tools", "fs.readFileText", Call({"path": "/docs/a.md"}), False, None),
        # A wrong type fails both conditions: the deny rule's failure denies.
        (ALICE, "tools", "fs.readFileText", Call({"path": 7}), False, "no-private"),
        (ALICE, "tools", "fs.readFileText", Call({}), False, None),  # a missing argument
        (ALICE, "tools", "fs.readFileText", Call(None), False, None),
        # The deny rule wins over an allow whose condition holds.
        (
            ALICE,
            "tools",
            "fs.readFileText",
            Call({"path": "docs/../private/k"}),
            False,
            "no-private",
        ),
        (ALICE, "tools", "fs.listDir", Call({"path": "private-notes"}), True, "list-dir"),
        (ALICE, "tools", "fs.listDir", Call({"path": "private"}), False, "no-private"),
        (ALICE, "tools", "fs.listDir", Call({"path": "docs"}), True, "list-dir"),
        # Not in the group: no rule allows.
        (EVE, "tools", "fs.readFileText", Call({"path": "docs/a.md"}), False, None),
        # A host rule, by scope.
        (
            BOB,
            "tools",
            "http.fetchText",
            Call({"url": "https://api.example.com/x"}),
            True,
            "fetch-example",
        ),
        (
            BOB,
            "tools",
            "http.fetchText",
            Call({"url": "https://API.EXAMPLE.COM./x"}),
            True,
            "fetch-example",
        ),
        (BOB, "tools", "http.fetchText", Call({"url": "https://example.com/"}), False, None),
        (BOB, "tools", "http.fetchText", Call({"url": "https://evil-example.com/"}), False, None),
        (
            BOB,
            "tools",
            "http.fetchText",
            Call({"url": "https://api.example.com.evil.io/"}),
            False,
            None,
        ),
        (
            BOB,
            "tools",
            "http.fetchText",
            Call({"url": "https://api.example.com@evil.io/"}),
            False,
            None,
        ),
        (
            BOB,
            "tools",
            "http.fetchText",
            Call({"url": "https://evil.io\\@api.example.com/"}),
            False,
            None,
        ),
        (BOB, "tools", "http.fetchText", Call({"url": "not a url"}), False, None),
        (ALICE, "tools", "http.fetchText", Call({"url": "https://api.example.com/"}), False, None),
        # Resources: by pattern, and the one deny rule that also covers the tools.
        (
            EVE,
            "resources",
            "fs.file:///docs/a.md",
            Call(uri="file:///docs/a.md"),
            True,
            "docs-files",
        ),
        (
            EVE,
            "resources",
            "fs.file:///private/k",
            Call(uri="file:///private/k"),
            False,
            "no-private",
        ),
        (EVE, "resources", "fs.file:///src/a.py", Call(uri="file:///src/a.py"), False, None),
        # An unconditional deny; prompts by principal; nothing for other kinds.
        (ALICE, "tools", "fs.writeFile", Call({"path": "docs/a"}), False, "no-writes"),
        (BOB, "prompts", "docs.summary", Call({}), True, "prompts-for-bob"),
        (EVE, "prompts", "docs.summary", Call({}), False, None),
        (ALICE, "tools", "vector.search", Call({}), False, None),
    ],
)
def test_rule_table(
    who: Principal, kind: Kind, subject: str, call: Call, allowed: bool, rule: str | None
) -> None:
    assert decide(who, kind, subject, call) == (allowed, rule)


def test_listing_shows_conditional_allows_and_hides_what_only_deny_rules_cover() -> None:
    alice = TABLE.view(ALICE)
    assert alice.lists("tools", "fs.readFileText")  # allowed on a condition: listed
    assert alice.lists("tools", "fs.listDir")
    assert not alice.lists("tools", "fs.writeFile")  # denied outright
    assert not alice.lists("tools", "http.fetchText")  # no rule for alice
    assert not alice.lists("tools", "vector.search")  # no rule at all: default deny
    assert TABLE.view(BOB).lists("tools", "http.fetchText")
    assert not TABLE.view(EVE).lists("tools", "fs.readFileText")


def test_a_use_without_a_call_is_decided_as_the_listing() -> None:
    alice = TABLE.view(ALICE)
    assert alice.decide("tools", "fs.readFileText", None).allowed
    assert not alice.decide("tools", "fs.writeFile", None).allowed


def test_reasons_name_the_rule_and_why() -> None:
    alice = TABLE.view(ALICE)
    denied = alice.decide("tools", "fs.readFileText", Call({"path": "src/a.py"}))
    assert "'read-docs': condition false" in denied.reason
    failed = alice.decide("tools", "fs.readFileText", Call({}))
    assert "'read-docs': condition failed" in failed.reason
    assert "no rule allows it" in TABLE.view(EVE).decide("tools", "x.y", Call({})).reason


def test_a_deny_rule_whose_condition_fails_denies() -> None:
    table = rules(
        {"id": "all", "effect": "allow", "tools": ["*"]},
        {"id": "big", "effect": "deny", "tools": ["*"], "when": "args.size > 10"},
    )
    view = table.view(EVE)
    assert view.decide("tools", "a.b", Call({"size": 3})).allowed
    assert view.decide("tools", "a.b", Call({"size": 30})).rule == "big"
    no_size = view.decide("tools", "a.b", Call({}))
    assert (no_size.allowed, no_size.rule) == (False, "big")


def test_a_condition_that_is_not_a_boolean_does_not_allow() -> None:
    table = rules({"id": "odd", "effect": "allow", "tools": ["*"], "when": "args.path"})
    decision = table.view(EVE).decide("tools", "a.b", Call({"path": "x"}))
    assert not decision.allowed
    assert "not a boolean" in decision.reason


def test_conditions_see_the_principal_and_the_name() -> None:
    table = rules(
        {
            "id": "own-dir",
            "effect": "allow",
            "tools": ["*"],
            "when": 'path(args.path).startsWith("home/" + principal.name + "/") && '
            '"docs-team" in principal.groups && name == "fs.readFileText"',
        },
    )
    alice = table.view(ALICE)
    assert alice.decide("tools", "fs.readFileText", Call({"path": "home/alice/x"})).allowed
    assert not alice.decide("tools", "fs.readFileText", Call({"path": "home/bob/x"})).allowed
    assert not alice.decide("tools", "fs.listDir", Call({"path": "home/alice/x"})).allowed


def test_policy_and_rules_must_both_allow() -> None:
    table = rules({"id": "all", "effect": "allow", "tools": ["*"]})
    walled = Principal("walled", Policy(deny=("fs.*",)))
    denied = evaluate(walled, "fs.listDir", table, "tools", Call({}))
    assert not denied.allowed and denied.rule is None and "policy" in denied.reason
    assert evaluate(walled, "http.fetchText", table, "tools", Call({})).rule == "all"
    assert evaluate(walled, "http.fetchText").reason == "allowed"  # no rules: policy alone


def test_no_rules_compile_to_nothing() -> None:
    assert compile_rules(()) is None


def test_bad_cel_is_a_config_error_naming_the_rule() -> None:
    bad = (
        RuleSpec(id="ok", effect="allow", tools=("*",)),
        RuleSpec(id="broken", effect="allow", tools=("*",), when='args.path.startsWith("'),
    )
    with pytest.raises(ConfigError, match=r"rules\[1\] \(id 'broken'\): when: .*[Ss]yntax"):
        compile_rules(bad)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"id": "x", "effect": "allow"}, "names no 'tools', 'resources' or 'prompts'"),
        ({"id": "x", "effect": "ask", "tools": ["*"]}, "'allow', 'deny' or 'consent'"),
        ({"id": "has space", "effect": "allow", "tools": ["*"]}, "id 'has space'"),
        ({"id": "x", "effect": "allow", "tools": ["*"], "who": ["a"]}, "Extra inputs"),
    ],
)
def test_bad_rule_shapes_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GatewayConfig.model_validate({"rules": [rule]})


def test_duplicate_rule_ids_are_refused() -> None:
    rule = {"id": "same", "effect": "allow", "tools": ["*"]}
    with pytest.raises(ValueError, match=r"rules\[1\]\.id: duplicate 'same'"):
        GatewayConfig.model_validate({"rules": [rule, rule]})


# --- fuzzing: listings and calls agree, and no argument makes the engine raise -------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
_ARGS = st.dictionaries(
    st.sampled_from(["path", "url", "size", "x"]),
    _JSON | st.sampled_from(["docs/a", "docs/../private/k", "https://a.example.com/", "private/x"]),
    max_size=4,
)
_CONDITIONS = [
    None,
    DOCS_ONLY,
    EXAMPLE_HOSTS,
    "args.size > 3",
    'args.x == "y"',
    "false",
    "args.path",
    'uri.startsWith("file:///private/")',
]
_RULE = st.fixed_dictionaries(
    {
        "id": st.text(alphabet="abcdef", min_size=1, max_size=4),
        "effect": st.sampled_from(["allow", "deny"]),
        "tools": st.lists(st.sampled_from(["fs.*", "fs.readFileText", "*", "http.*"]), max_size=2),
        "resources": st.lists(st.sampled_from(["fs.file:///docs/*", "fs.*"]), max_size=1),
        "groups": st.lists(st.sampled_from(["docs-team", "ops"]), max_size=1),
        "when": st.sampled_from(_CONDITIONS),
    }
)
_SUBJECTS = st.sampled_from(
    [
        ("tools", "fs.readFileText"),
        ("tools", "http.fetchText"),
        ("tools", "vector.search"),
        ("resources", "fs.file:///docs/a"),
        ("resources", "fs.file:///private/k"),
    ]
)


def _table(drawn: list[dict[str, Any]]) -> RuleSet | None:
    specs: list[RuleSpec] = []
    for index, spec in enumerate(drawn):
        if not (spec["tools"] or spec["resources"]):
            spec = {**spec, "tools": ["*"]}
        specs.append(RuleSpec.model_validate({**spec, "id": f"{spec['id']}{index}"}))
    return compile_rules(tuple(specs))


@settings(max_examples=300, deadline=None)
@given(st.lists(_RULE, min_size=1, max_size=5), _SUBJECTS, _ARGS, st.sampled_from([ALICE, EVE]))
def test_a_call_allowed_on_any_arguments_is_always_listed(
    drawn: list[dict[str, Any]], target: tuple[Kind, str], args: dict[str, Any], who: Principal
) -> None:
    table = _table(drawn)
    assert table is not None
    view = table.view(who)
    kind, subject = target
    uri = subject.removeprefix("fs.") if kind == "resources" else None
    decision = view.decide(kind, subject, Call(args, uri))
    if decision.allowed:
        assert view.lists(kind, subject)
    if not view.lists(kind, subject):
        assert not decision.allowed


@settings(max_examples=200, deadline=None)
@given(st.lists(_RULE, min_size=1, max_size=5), _SUBJECTS, _ARGS)
def test_without_conditions_listing_and_calls_agree_exactly(
    drawn: list[dict[str, Any]], target: tuple[Kind, str], args: dict[str, Any]
) -> None:
    table = _table([{**spec, "when": None} for spec in drawn])
    assert table is not None
    view = table.view(ALICE)
    kind, subject = target
    assert view.decide(kind, subject, Call(args)).allowed == view.lists(kind, subject)


_TOOLS = ("readFileText", "listDir", "writeFile", "fetchText")
_CATALOG = Catalog.build(
    1,
    {"fs": Namer("fs"), "http": Namer("http")},
    {
        "fs": ServiceCatalog(tools=tuple({"name": t} for t in _TOOLS[:3])),
        "http": ServiceCatalog(tools=({"name": "fetchText"},)),
    },
)
_POLICIES = st.sampled_from(
    [Policy(), Policy(deny=("fs.write*",)), Policy(allow=("http.*",)), Policy(allow=())]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_RULE, min_size=1, max_size=5), _POLICIES, _ARGS)
def test_the_catalog_lists_every_tool_a_call_may_use_and_no_other_that_no_call_may(
    drawn: list[dict[str, Any]], policy: Policy, args: dict[str, Any]
) -> None:
    table = _table(drawn)
    assert table is not None
    who = Principal("alice", policy, groups=frozenset({"docs-team"}))
    listed = {t["name"] for t in _CATALOG.visible("tools", who.name, policy, table.view(who))}
    for exposed in ("fs.readFileText", "fs.listDir", "fs.writeFile", "http.fetchText"):
        route = _CATALOG.tool(exposed)
        assert route is not None
        allowed = evaluate(who, route.subject, table, "tools", Call(args)).allowed
        listed_by_engine = evaluate(who, route.subject, table, "tools", None).allowed
        assert (exposed in listed) == listed_by_engine
        if allowed:
            assert exposed in listed


def test_the_issue_examples_work_as_written() -> None:
    table = rules(
        {
            "id": "docs",
            "effect": "allow",
            "tools": ["fs.readFileText"],
            "when": 'args.path.startsWith("docs/")',
        },
        {
            "id": "hosts",
            "effect": "allow",
            "tools": ["http.fetchText"],
            "when": 'glob(host(args.url), "*.example.com")',
        },
    )
    view = table.view(EVE)
    assert view.decide("tools", "fs.readFileText", Call({"path": "docs/a.md"})).allowed
    assert not view.decide("tools", "fs.readFileText", Call({"path": "src/a.md"})).allowed
    # A plain string test: `..` walks out of it, which is why the docs use under() / path().
    assert view.decide("tools", "fs.readFileText", Call({"path": "docs/../key"})).allowed
    url = "https://www.example.com/a"
    assert view.decide("tools", "http.fetchText", Call({"url": url})).allowed
    assert not view.decide("tools", "http.fetchText", Call({"url": "https://x.org/"})).allowed


CONSENTING = rules(
    {"id": "write-anywhere", "effect": "allow", "tools": ["fs.write*"]},
    {
        "id": "ask-outside-docs",
        "effect": "consent",
        "tools": ["fs.write*"],
        "when": '!under(args.path, "docs")',
    },
    {"id": "ask-always", "effect": "consent", "tools": ["fs.move"]},
    {"id": "no-secrets", "effect": "deny", "tools": ["fs.*"], "when": 'under(args.path, "keys")'},
)


@pytest.mark.parametrize(
    ("subject", "args", "allowed", "consent", "rule"),
    [
        # The consent rule's condition holds: allowed once the human approves, over the allow.
        ("fs.writeFile", {"path": "src/a.py"}, True, True, "ask-outside-docs"),
        # It does not hold: the allow decides, and nobody is asked.
        ("fs.writeFile", {"path": "docs/a.md"}, True, False, "write-anywhere"),
        # A deny that applies wins over consent.
        ("fs.writeFile", {"path": "keys/id"}, False, False, "no-secrets"),
        # A consent rule with no condition asks on every call; no allow rule is needed.
        ("fs.move", {"path": "docs/a.md"}, True, True, "ask-always"),
        # A condition that cannot be evaluated never lets the call through unasked.
        ("fs.writeFile", {"path": 7}, False, False, "no-secrets"),
        ("fs.writeFile", {}, False, False, "no-secrets"),
    ],
)
def test_a_consent_rule_allows_only_with_the_humans_approval_and_yields_to_deny(
    subject: str, args: dict[str, Any], allowed: bool, consent: bool, rule: str
) -> None:
    decision = CONSENTING.view(EVE).decide("tools", subject, Call(args))
    assert (decision.allowed, decision.consent, decision.rule) == (allowed, consent, rule)


def test_a_tool_behind_a_consent_rule_is_listed() -> None:
    view = CONSENTING.view(EVE)
    assert view.lists("tools", "fs.move")
    assert view.decide("tools", "fs.move", None).allowed


def test_a_consent_rule_over_resources_or_prompts_is_refused_at_load() -> None:
    with pytest.raises(ValueError, match="consent is asked before tool calls only"):
        RuleSpec.model_validate({"id": "r", "effect": "consent", "resources": ["fs.*"]})
