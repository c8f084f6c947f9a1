"""Rate limits without a gateway: rules compiled from config, which calls they count and on
which counter, the config's errors, and the HTTP head of a refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp import codes
from micro_mcp.config.load import load_config
from micro_mcp.config.rate_limits import RateLimitRule, RateLimitsSpec
from micro_mcp.errors import ConfigError, RateLimited
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.rate_limits import RateLimits, Rule
from micro_mcp.gateway.fronts.responses import head_of
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry.recorder import Recorder

ALICE = Principal("alice", Policy(), groups=frozenset({"interns"}))
BOB = Principal("bob", Policy())
READ = Route(namespace="fs", name="read", subject="fs.read")
WRITE = Route(namespace="fs", name="write", subject="fs.write")
FETCH = Route(namespace="http", name="fetchText", subject="http.fetchText")


def _rule(**fields: Any) -> Rule:
    return Rule(RateLimitRule.model_validate({"id": "r", "rate": "1/hour", **fields}))


@pytest.mark.parametrize(
    ("fields", "principal", "route", "applies"),
    [
        ({}, BOB, FETCH, True),
        ({"principals": ["alice"]}, BOB, READ, False),
        ({"principals": ["alice"]}, ALICE, READ, True),
        ({"groups": ["interns"]}, ALICE, READ, True),
        ({"groups": ["interns"]}, BOB, READ, False),
        ({"principals": ["bob"], "groups": ["interns"]}, BOB, READ, True),
        ({"subjects": ["fs.*"]}, BOB, READ, True),
        ({"subjects": ["fs.*"]}, BOB, FETCH, False),
        ({"subjects": ["fs.write", "http.*"]}, BOB, READ, False),
        ({"subjects": ["fs.write", "http.*"]}, BOB, FETCH, True),
    ],
)
def test_a_rule_applies_to_its_principals_groups_and_subjects(
    fields: dict[str, Any], principal: Principal, route: Route, applies: bool
) -> None:
    assert _rule(**fields).applies(principal, route.subject) is applies


def test_a_rules_key_holds_what_per_names_in_order() -> None:
    window = "fixed-window"
    assert _rule().key("alice", READ) == (window, "r", "alice")
    assert _rule(per=[]).key("alice", READ) == (window, "r")
    assert _rule(per=["service", "name"]).key("alice", READ) == (window, "r", "fs", "fs.read")
    assert _rule(per=["principal", "name"]).key("bob", WRITE) == (window, "r", "bob", "fs.write")


def test_each_strategy_counts_on_keys_of_its_own() -> None:
    spec = RateLimitRule(id="r", rate="1/hour")
    fixed = Rule(spec, "fixed-window").key("alice", READ)
    moving = Rule(spec, "moving-window").key("alice", READ)
    assert fixed != moving


def test_a_slash_inside_a_key_part_cannot_make_two_calls_share_a_counter() -> None:
    rule = _rule(per=["principal", "name"])
    one = rule.key("a/b", Route(namespace="x", name="c", subject="x.c"))
    other = rule.key("a", Route(namespace="b", name="x.c", subject="b/x.c"))
    assert "/".join(one) != "/".join(other)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"rules": [{"id": "r", "rate": "lots"}]}, "is not a rate"),
        ({"rules": [{"id": "r", "rate": "1/fortnight"}]}, "is not a rate"),
        ({"rules": [{"id": "has space", "rate": "1/hour"}]}, "use 1-64 characters"),
        ({"rules": [{"id": "r", "rate": "1/hour"}] * 2}, "duplicate 'r'"),
        ({"rules": [{"id": "r", "rate": "1/hour", "per": ["name", "name"]}]}, "twice"),
        ({"rules": [{"id": "r", "rate": "1/hour", "per": ["tool"]}]}, "per"),
        ({"storage": "memcached://localhost"}, "use memory:// or a redis://"),
        ({"failureMode": "maybe"}, "failureMode"),
    ],
)
def test_a_bad_rate_limits_section_is_a_config_error_naming_the_fault(
    tmp_path: Path, section: dict[str, Any], message: str
) -> None:
    file = tmp_path / "gateway.json"
    file.write_text(json.dumps({"rateLimits": section}))
    with pytest.raises(ConfigError, match="rateLimits") as raised:
        load_config(file)
    assert message in str(raised.value)


def test_a_config_without_rules_opens_no_limits_and_the_defaults_are_sane(tmp_path: Path) -> None:
    file = tmp_path / "gateway.json"
    file.write_text(json.dumps({"http": {"maxSessions": 50}}))
    config = load_config(file)
    assert config.rate_limits == RateLimitsSpec()
    assert config.rate_limits.failure_mode == "closed"
    assert config.http.max_sessions_per_principal == 100


def _exchange(principal: Principal) -> Exchange:
    async def deliver(message: jsonrpc.Message, related: jsonrpc.RequestId | None) -> None:
        pass

    return Exchange(ClientSession(deliver, principal), 1, "tools/call", {}, 0.0, 1)


@pytest.mark.anyio
@pytest.mark.parametrize("strategy", ["fixed-window", "sliding-window-counter", "moving-window"])
async def test_each_strategy_lets_the_rate_through_and_refuses_the_next(strategy: str) -> None:
    spec = RateLimitsSpec.model_validate(
        {"strategy": strategy, "rules": [{"id": "r", "rate": "3/hour"}]}
    )
    async with RateLimits.open(spec, Recorder()) as limits:
        assert limits is not None
        for _ in range(3):
            await limits.check(_exchange(ALICE), READ)
        await limits.check(_exchange(BOB), READ)  # a counter of its own
        ex = _exchange(ALICE)
        with pytest.raises(RateLimited) as refused:
            await limits.check(ex, READ)
    assert ex.rate_limit == "r"
    assert 1 <= refused.value.retry_after <= 3600
    assert refused.value.to_error()["data"] == {"retryAfter": refused.value.retry_after}


@pytest.mark.anyio
async def test_a_call_refused_by_one_rule_is_not_counted_by_the_rules_after_it() -> None:
    spec = RateLimitsSpec.model_validate(
        {
            "rules": [
                {"id": "reads", "rate": "1/hour", "subjects": ["fs.read"]},
                {"id": "all", "rate": "2/hour"},
            ]
        }
    )
    async with RateLimits.open(spec, Recorder()) as limits:
        assert limits is not None
        await limits.check(_exchange(ALICE), READ)
        for _ in range(3):
            with pytest.raises(RateLimited):
                await limits.check(_exchange(ALICE), READ)
        await limits.check(_exchange(ALICE), WRITE)  # `all` has counted one call so far
        with pytest.raises(RateLimited):
            await limits.check(_exchange(ALICE), WRITE)


@pytest.mark.anyio
async def test_no_rules_means_no_limits_at_all() -> None:
    async with RateLimits.open(RateLimitsSpec(), Recorder()) as limits:
        assert limits is None


def _error(code: int, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": "no"}
    if data is not None:
        error["data"] = data
    return jsonrpc.encode(jsonrpc.error(7, error))[:-1]


@pytest.mark.parametrize("modern", [True, False])
def test_a_rate_limit_reply_gets_429_and_retry_after_in_both_eras(modern: bool) -> None:
    limited = _error(codes.RATE_LIMITED, {"retryAfter": 42})
    assert head_of(limited, modern=modern) == (429, [(b"retry-after", b"42")])
    assert head_of(_error(codes.RATE_LIMIT_UNAVAILABLE), modern=modern) == (503, [])


def test_other_replies_keep_their_status() -> None:
    invalid = _error(codes.INVALID_PARAMS)
    assert head_of(invalid, modern=True) == (400, [])
    assert head_of(invalid, modern=False) == (200, [])  # the handshake era maps no codes
    ok = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": {"error": "a word in a result"}})
    assert head_of(ok, modern=True) == (200, [])
    assert head_of(ok, modern=False) == (200, [])


def test_the_quickstarts_rate_limit_config_loads_as_written(tmp_path: Path) -> None:
    quickstart = Path(__file__).resolve().parents[2] / "docs" / "QUICKSTART.md"
    section = quickstart.read_text().split("### Rate limits and quotas", 1)[1]
    block = section.split("```json\n", 1)[1].split("```", 1)[0]
    file = tmp_path / "gateway.json"
    file.write_text(block)
    config = load_config(file)
    assert [rule.id for rule in config.rate_limits.rules] == [
        "per-caller",
        "fetch",
        "reader-quota",
        "fs-total",
    ]
    assert config.http.max_sessions_per_principal == 20


@given(
    st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)),
    st.tuples(st.text(max_size=8), st.text(max_size=8), st.text(max_size=8)),
)
def test_different_calls_never_share_a_counter_key(
    one: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    rule = _rule(per=["principal", "service", "name"])

    def joined(parts: tuple[str, str, str]) -> str:
        principal, namespace, subject = parts
        route = Route(namespace=namespace, name=subject, subject=subject)
        return "/".join(rule.key(principal, route))  # as the store joins them

    assert (joined(one) == joined(other)) == (one == other)
