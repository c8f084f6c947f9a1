"""JSON-RPC envelopes: decode, classify, encode."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc


def decode_error_code(raw: bytes | str) -> int:
    with pytest.raises(McpError) as caught:
        jsonrpc.decode(raw)
    return caught.value.code


@pytest.mark.parametrize("raw", [b"", b"{", b"not json", b"\xff\xfe", b'{"a":1}{"b":2}', b"NaN"])
def test_decode_of_non_json_is_parse_error(raw):
    assert decode_error_code(raw) == codes.PARSE_ERROR


def test_decode_of_a_batch_is_invalid_request():
    raw = b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]'
    assert decode_error_code(raw) == codes.INVALID_REQUEST


@pytest.mark.parametrize("raw", [b"1", b'"text"', b"null", b"true"])
def test_decode_of_a_json_scalar_is_invalid_request(raw):
    assert decode_error_code(raw) == codes.INVALID_REQUEST


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":1,"method":"ping"}',
        b'{"jsonrpc":"1.0","id":1,"method":"ping"}',
        b'{"jsonrpc":2.0,"id":1,"method":"ping"}',
    ],
)
def test_decode_without_jsonrpc_2_0_is_invalid_request(raw):
    assert decode_error_code(raw) == codes.INVALID_REQUEST


@pytest.mark.parametrize("request_id", [b"true", b"false", b"1.5", b"1.0", b"{}", b"[1]", b"null"])
def test_decode_of_a_request_with_a_bad_id_type_is_invalid_request(request_id):
    raw = b'{"jsonrpc":"2.0","id":' + request_id + b',"method":"ping"}'
    assert decode_error_code(raw) == codes.INVALID_REQUEST


@pytest.mark.parametrize("params", [b"[]", b"[1,2]", b'"x"', b"3"])
def test_decode_of_params_that_are_not_an_object_is_invalid_request(params):
    raw = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":' + params + b"}"
    assert decode_error_code(raw) == codes.INVALID_REQUEST


def test_decode_of_a_non_string_method_is_invalid_request():
    assert decode_error_code(b'{"jsonrpc":"2.0","id":1,"method":7}') == codes.INVALID_REQUEST


@pytest.mark.parametrize(
    "raw", [b'{"jsonrpc":"2.0"}', b'{"jsonrpc":"2.0","id":1}', b'{"jsonrpc":"2.0","result":{}}']
)
def test_decode_of_neither_request_nor_response_is_invalid_request(raw):
    assert decode_error_code(raw) == codes.INVALID_REQUEST


def test_decode_accepts_a_request_and_classifies_it():
    message = jsonrpc.decode(b'{"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}}')
    assert message == {"jsonrpc": "2.0", "id": "a", "method": "tools/list", "params": {}}
    assert jsonrpc.is_request(message)
    assert not jsonrpc.is_notification(message)


def test_decode_accepts_a_notification_and_classifies_it():
    message = jsonrpc.decode('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    assert jsonrpc.is_notification(message)
    assert not jsonrpc.is_request(message)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}',
        b'{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"no"}}',
        b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"bad"}}',
    ],
)
def test_decode_accepts_responses(raw):
    message = jsonrpc.decode(raw)
    assert not jsonrpc.is_request(message)
    assert not jsonrpc.is_notification(message)


@pytest.mark.parametrize("response_id", [b"{}", b"[1]", b"true", b"1.5"])
def test_decode_of_a_response_with_a_bad_id_type_is_invalid_request(response_id):
    raw = b'{"jsonrpc":"2.0","id":' + response_id + b',"result":{}}'
    assert decode_error_code(raw) == codes.INVALID_REQUEST


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, False),
        (False, False),
        (1.0, False),
        (None, False),
        ({}, False),
        (0, True),
        ("", True),
    ],
)
def test_is_request_id_accepts_only_strings_and_non_bool_integers(value, expected):
    assert jsonrpc.is_request_id(value) is expected


def test_encode_is_one_line_ending_with_newline_and_round_trips():
    message = jsonrpc.request(7, "tools/call", {"name": "fs.read", "arguments": {"text": "a\nb"}})
    data = jsonrpc.encode(message)
    assert data.endswith(b"\n")
    assert data.count(b"\n") == 1
    assert jsonrpc.decode(data) == message


def test_builders_produce_valid_envelopes():
    assert jsonrpc.request(1, "ping") == {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert jsonrpc.notification("n") == {"jsonrpc": "2.0", "method": "n"}
    assert jsonrpc.result(1, {}) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    error = jsonrpc.error(None, {"code": codes.PARSE_ERROR, "message": "x"})
    assert error["id"] is None
    for message in (jsonrpc.request(1, "ping", {}), jsonrpc.notification("n", {}), error):
        jsonrpc.check_envelope(message)


def _check_decode_only_raises_envelope_errors(raw: bytes | str) -> None:
    try:
        jsonrpc.decode(raw)
    except McpError as exc:
        assert exc.code in (codes.PARSE_ERROR, codes.INVALID_REQUEST)


@settings(database=None)
@given(raw=st.binary())
def test_decode_of_any_bytes_raises_only_parse_error_or_invalid_request(raw):
    _check_decode_only_raises_envelope_errors(raw)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
_envelope_like = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0"]) | _json,
        "id": _json,
        "method": st.sampled_from(["ping", "tools/list"]) | _json,
        "params": _json,
        "result": _json,
        "error": _json,
    },
)


@settings(database=None)
@given(message=_envelope_like | _json)
def test_decode_of_any_json_raises_only_invalid_request(message):
    _check_decode_only_raises_envelope_errors(json.dumps(message).encode())


def _nest(kinds: list[str]) -> str:
    """JSON text whose containers nest `len(kinds)` levels, outermost first (written by hand:
    the json module's encoder recurses, and orjson's stops at 255 levels)."""
    text = "1"
    for kind in reversed(kinds):
        text = f"[{text},2]" if kind == "list" else f'{{"k":{text},"s":"x"}}'
    return text


def _call(arguments: str) -> str:
    return f'{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"arguments":{arguments}}}}}'


@pytest.mark.parametrize(
    ("raw", "refused"),
    [
        # params is level 1 and arguments level 2: arguments may nest MAX_DEPTH - 1 levels
        (_call(_nest(["dict"] * (jsonrpc.MAX_DEPTH - 1))), False),
        (_call(_nest(["dict"] * jsonrpc.MAX_DEPTH)), True),
        (_call(_nest(["list"] * 300)), True),
        (
            _call(_nest(["list", "dict"] * 500)),
            True,
        ),  # past what orjson writes, below what it reads
        ('{"jsonrpc":"2.0","method":"n","params":' + _nest(["dict"] * 100) + "}", True),
        ('{"jsonrpc":"2.0","id":1,"method":"ping","params":null}', False),
        ('{"jsonrpc":"2.0","id":1,"result":' + _nest(["dict"] * 100) + "}", False),
    ],
)
def test_params_nested_past_max_depth_are_invalid_params(raw: bytes | str, refused: bool) -> None:
    if refused:
        assert decode_error_code(raw) == codes.INVALID_PARAMS
    else:
        jsonrpc.decode(raw)


@settings(database=None, max_examples=200)
@given(kinds=st.lists(st.sampled_from(["list", "dict"]), min_size=1, max_size=150))
def test_decode_refuses_exactly_what_nests_too_deep_and_what_it_takes_can_be_written(
    kinds: list[str],
) -> None:
    raw = _call(_nest(kinds)).replace('"id":7', '"id":1')
    try:
        message = jsonrpc.decode(raw)
    except McpError as exc:
        assert exc.code == codes.INVALID_PARAMS
        assert 1 + len(kinds) > jsonrpc.MAX_DEPTH
        assert jsonrpc.salvage_id(raw) == 1
    else:
        assert 1 + len(kinds) <= jsonrpc.MAX_DEPTH
        assert jsonrpc.decode(jsonrpc.encode(message)) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"jsonrpc":"2.0","id":3,"method":"x","params":[]}', 3),
        (b'{"jsonrpc":"1.0","id":"a","method":"x"}', "a"),
        (b'{"id":true}', None),
        (b"[1]", None),
        (b"{nope", None),
    ],
)
def test_salvage_id_finds_a_usable_id_in_what_decode_refused(raw: bytes, expected: object) -> None:
    assert jsonrpc.salvage_id(raw) == expected
