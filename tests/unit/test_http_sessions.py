"""The HTTP front's session table: a cap overall and per principal, idle sessions swept first."""

from __future__ import annotations

from micro_mcp.gateway.fronts.http_sessions import HttpSession, Refusal, SessionTable
from micro_mcp.policy.model import Policy, Principal

ALICE = Principal("alice", Policy())
BOB = Principal("bob", Policy())


def test_a_principal_at_its_share_is_refused_while_others_still_get_in() -> None:
    table = SessionTable(max_sessions=10, idle_seconds=3600, per_principal=2)
    opened = [table.create(ALICE) for _ in range(2)]
    refused = table.create(ALICE)
    bob = table.create(BOB)

    assert all(isinstance(s, HttpSession) for s in opened)
    assert isinstance(refused, Refusal) and refused.principal
    assert 1 <= refused.retry_after <= 3600
    assert isinstance(bob, HttpSession)
    assert table.held(ALICE) == 2 and table.held(BOB) == 1


def test_ending_a_session_gives_its_principal_the_place_back() -> None:
    table = SessionTable(max_sessions=10, idle_seconds=3600, per_principal=1)
    first = table.create(ALICE)
    assert isinstance(first, HttpSession)
    assert isinstance(table.create(ALICE), Refusal)
    table.remove(first.id)
    assert table.held(ALICE) == 0
    assert isinstance(table.create(ALICE), HttpSession)


def test_a_full_gateway_refuses_everyone_as_full_not_as_over_a_share() -> None:
    table = SessionTable(max_sessions=2, idle_seconds=3600, per_principal=5)
    table.create(ALICE)
    table.create(BOB)
    refused = table.create(BOB)
    assert isinstance(refused, Refusal) and not refused.principal


def test_idle_sessions_of_a_principal_at_its_share_are_swept_to_make_room() -> None:
    table = SessionTable(max_sessions=10, idle_seconds=60, per_principal=1)
    idle = table.create(ALICE)
    assert isinstance(idle, HttpSession)
    idle.last_used -= 61  # as if unused for longer than the idle limit
    again = table.create(ALICE)
    assert isinstance(again, HttpSession)
    assert table.get(idle.id, ALICE) is None
    assert table.held(ALICE) == 1
