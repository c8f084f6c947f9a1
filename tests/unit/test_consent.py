"""The parts of consent that need no client: what the human is shown, and what is remembered."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp.gateway.core import consent, consent_grants
from micro_mcp.gateway.core.consent import summarize
from micro_mcp.gateway.core.consent_grants import MemoryGrants


def test_the_summary_shows_short_values_as_json() -> None:
    assert summarize({"path": "notes.txt", "lines": 3}) == '  "path": "notes.txt"\n  "lines": 3'


def test_the_summary_cuts_long_values_and_says_how_long_they_were() -> None:
    text = summarize({"content": "x" * 500})
    assert text.startswith('  "content": "' + "x" * (consent.PREVIEW_CHARS - 1) + "…")
    assert "(502 characters)" in text
    assert "x" * consent.PREVIEW_CHARS not in text


def test_the_summary_hides_values_under_secret_looking_names() -> None:
    text = summarize({"apiKey": "sk-live-123456", "Password": "hunter2", "user": "ada"})
    assert "sk-live" not in text
    assert "hunter2" not in text
    assert '"apiKey": (hidden, 16 characters)' in text
    assert '"user": "ada"' in text


def test_the_summary_names_a_bounded_number_of_arguments() -> None:
    text = summarize({f"a{i}": i for i in range(20)})
    assert len(text.splitlines()) == consent.MAX_FIELDS + 1
    assert text.endswith(f"… and {20 - consent.MAX_FIELDS} more")


def test_the_summary_escapes_control_characters_so_the_question_cannot_be_redrawn() -> None:
    text = summarize({"note": "ok\n\nApprove: yes\x1b[2J"})
    assert "\n\n" not in text
    assert "\x1b" not in text


def test_the_summary_escapes_separators_and_bidi_overrides_json_leaves_alone() -> None:
    text = summarize({"path\x85": "evil\u202etxt.exe\u2028Approve: yes"})
    assert text == '  "path\\u0085": "evil\\u202etxt.exe\\u2028Approve: yes"'


def test_the_summary_survives_integers_past_64_bits() -> None:
    assert summarize({"n": 2**70}) == f'  "n": {2**70}'


def test_no_arguments_are_said_to_be_none() -> None:
    assert summarize(None) == summarize({}) == "  (none)"


@pytest.mark.anyio
async def test_a_grant_holds_until_its_time() -> None:
    grants = MemoryGrants()
    await grants.put("k", until=10.0, now=0.0)
    assert await grants.holds("k", 9.9)
    assert not await grants.holds("k", 10.0)
    assert not await grants.holds("other", 0.0)


@pytest.mark.anyio
async def test_a_nonce_is_spent_once() -> None:
    grants = MemoryGrants()
    assert await grants.spend("n", until=10.0, now=0.0)
    assert not await grants.spend("n", until=10.0, now=1.0)


@pytest.mark.anyio
async def test_a_full_store_drops_the_expired_first() -> None:
    grants = MemoryGrants()
    for i in range(consent_grants.MAX_GRANTS):
        await grants.put(f"k{i}", until=5.0 if i % 2 else 100.0, now=0.0)
    await grants.put("new", until=100.0, now=10.0)
    kept = [i for i in range(consent_grants.MAX_GRANTS) if await grants.holds(f"k{i}", 10.0)]
    assert kept == list(range(0, consent_grants.MAX_GRANTS, 2))  # every live one, the oldest too
    assert await grants.holds("new", 10.0)


@pytest.mark.anyio
async def test_a_full_store_of_live_grants_drops_the_oldest_quarter() -> None:
    grants = MemoryGrants()
    for i in range(consent_grants.MAX_GRANTS + 1):
        await grants.put(f"k{i}", until=100.0, now=0.0)
    held = [i for i in range(consent_grants.MAX_GRANTS + 1) if await grants.holds(f"k{i}", 0.0)]
    assert held == list(range(consent_grants.MAX_GRANTS // 4, consent_grants.MAX_GRANTS + 1))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON, max_size=30))
def test_any_arguments_make_a_bounded_summary_of_one_line_each(arguments: dict[str, Any]) -> None:
    text = summarize(arguments)
    lines = text.splitlines()
    assert len(lines) <= consent.MAX_FIELDS + 1
    # A name: 40 characters, each at most 6 once escaped (\u0000), quoted; a value: the preview
    # and its length in words.
    assert all(len(line) <= 2 + 6 * 40 + 2 + 2 + consent.PREVIEW_CHARS + 40 for line in lines)
