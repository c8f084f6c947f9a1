"""Opaque list cursors."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.registry.catalog import KINDS
from micro_mcp.registry.paging import decode_cursor, encode_cursor


def forge(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def cursor_error_code(cursor: str, kind: str) -> int:
    with pytest.raises(McpError) as caught:
        decode_cursor(cursor, kind)
    return caught.value.code


@settings(database=None)
@given(
    generation=st.integers(min_value=0, max_value=2**63),
    kind=st.sampled_from(KINDS),
    offset=st.integers(min_value=0, max_value=2**63),
)
def test_cursor_round_trips(generation, kind, offset):
    assert decode_cursor(encode_cursor(generation, kind, offset), kind) == (generation, offset)


def test_cursor_is_url_safe_and_unpadded():
    cursor = encode_cursor(12, "resourceTemplates", 1000)
    assert "=" not in cursor
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_for_another_list_is_invalid_params():
    cursor = encode_cursor(1, "tools", 10)
    assert cursor_error_code(cursor, "prompts") == codes.INVALID_PARAMS


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "!!!",
        "not a cursor",
        "é",
        forge("1:tools"),
        forge("1:tools:10:extra"),
        forge("x:tools:10"),
        forge("1:tools:ten"),
        base64.urlsafe_b64encode(b"\xff\xfe:tools:1").decode(),
    ],
)
def test_garbage_cursor_is_invalid_params(cursor):
    assert cursor_error_code(cursor, "tools") == codes.INVALID_PARAMS


def test_forged_cursor_with_negative_offset_is_invalid_params():
    assert cursor_error_code(forge("1:tools:-5"), "tools") == codes.INVALID_PARAMS


@settings(database=None)
@given(cursor=st.text(), kind=st.sampled_from(KINDS))
def test_any_text_decodes_or_raises_invalid_params(cursor, kind):
    try:
        decode_cursor(cursor, kind)
    except McpError as exc:
        assert exc.code == codes.INVALID_PARAMS
