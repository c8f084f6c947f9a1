"""Sealed consent states: what a 2026-07-28 client carries between the question and its answer."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp.gateway.core.consent_seal import PREFIX, Claim, Expired, Forged, Sealer

KEY = b"k" * 32


def test_a_sealed_state_opens_to_what_was_sealed() -> None:
    state = Sealer(KEY).seal("alice", "fs.write", "ab" * 32, 1000.0)
    assert state.startswith(PREFIX)
    claim = Sealer(KEY).open(state, now=999.0)
    assert claim == Claim("alice", "fs.write", "ab" * 32, 1000.0, claim.nonce)


@pytest.mark.parametrize("inner", ["svc-state", "", None])
def test_a_resume_state_carries_the_services_own_state_exactly(inner: str | None) -> None:
    sealer = Sealer(KEY)
    claim = sealer.open(sealer.seal("a", "t", "h", 10.0, resume=True, inner=inner), 0.0)
    assert (claim.resume, claim.inner) == (True, inner)
    question = sealer.open(sealer.seal("a", "t", "h", 10.0), 0.0)
    assert (question.resume, question.inner) == (False, None)


def test_each_state_has_its_own_nonce() -> None:
    sealer = Sealer(KEY)
    first, second = (sealer.open(sealer.seal("a", "t", "h", 10.0), 0.0) for _ in range(2))
    assert first.nonce != second.nonce


def test_a_state_at_or_past_its_expiry_is_refused_as_expired() -> None:
    sealer = Sealer(KEY)
    state = sealer.seal("alice", "fs.write", "h", 1000.0)
    with pytest.raises(Expired):
        sealer.open(state, now=1000.0)


def test_a_state_sealed_under_another_key_is_forged() -> None:
    state = Sealer(b"x" * 32).seal("alice", "fs.write", "h", 1000.0)
    with pytest.raises(Forged):
        Sealer(KEY).open(state, now=0.0)


def test_two_gateways_without_a_shared_key_cannot_open_each_others_states() -> None:
    state = Sealer().seal("alice", "fs.write", "h", 1000.0)
    with pytest.raises(Forged):
        Sealer().open(state, now=0.0)


def _rewrite(state: str, **changes: object) -> str:
    body, _, mac = state[len(PREFIX) :].partition(".")
    payload = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    forged = base64.urlsafe_b64encode(orjson.dumps(payload)).rstrip(b"=").decode()
    return f"{PREFIX}{forged}.{mac}"


@pytest.mark.parametrize(
    "change", [{"p": "mallory"}, {"t": "fs.delete"}, {"a": "00" * 32}, {"e": 9e99}]
)
def test_a_state_with_any_field_changed_is_forged(change: dict[str, object]) -> None:
    sealer = Sealer(KEY)
    state = sealer.seal("alice", "fs.write", "ab" * 32, 1000.0)
    with pytest.raises(Forged):
        sealer.open(_rewrite(state, **change), now=0.0)


@pytest.mark.parametrize(
    "state",
    [
        "",
        "service-state",
        PREFIX,
        PREFIX + "abc",
        PREFIX + "abc.",
        PREFIX + "!!.??",
        PREFIX + "é.é",
    ],
)
def test_malformed_states_are_forged_never_another_error(state: str) -> None:
    with pytest.raises(Forged):
        Sealer(KEY).open(state, now=0.0)


def test_a_genuine_mac_over_a_body_that_is_not_a_claim_is_forged() -> None:
    sealer = Sealer(KEY)
    body = base64.urlsafe_b64encode(b'{"p": 1}').rstrip(b"=").decode()
    mac = sealer._mac(body)  # pyright: ignore[reportPrivateUsage]  # a state only the key holder could make
    state = f"{PREFIX}{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(Forged):
        sealer.open(state, now=0.0)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        Sealer(b"short")


@given(st.text(max_size=300))
def test_any_string_opens_to_forged_and_nothing_else(text: str) -> None:
    sealer = Sealer(KEY)
    for state in (text, PREFIX + text):
        with pytest.raises(Forged):
            sealer.open(state, now=0.0)


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=255))
def test_any_one_byte_changed_in_a_genuine_state_is_forged(position: int, byte: int) -> None:
    sealer = Sealer(KEY)
    state = sealer.seal("alice", "fs.write", "ab" * 32, 1000.0)
    index = position % len(state)
    changed = state[:index] + chr(byte) + state[index + 1 :]
    if changed == state:
        return
    with pytest.raises(Forged):
        sealer.open(changed, now=0.0)


def test_another_spelling_of_the_same_mac_bytes_is_forged() -> None:
    sealer = Sealer(KEY)
    state = sealer.seal("alice", "fs.write", "ab" * 32, 1000.0)
    # 32 MAC bytes take 43 base64 characters; the last one has 2 spare bits.
    last = state[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(Forged):
        sealer.open(state[:-1] + twin, now=0.0)
