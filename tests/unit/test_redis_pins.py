"""The Redis pin store's encoding, the pure part: a field per (namespace, kind, name), a
namespace's fields found by an exact prefix, and an entry that is not a pin refused by name."""

from __future__ import annotations

import pytest

from micro_mcp.errors import PinStoreError
from micro_mcp.registry.pins import pin
from micro_mcp.registry.redis_pins import decoded, field, namespace_prefix, value


def test_an_entry_round_trips_through_its_field_and_value():
    found = pin("fs", "tools", {"name": 're"ad', "description": "Reads."})
    assert found is not None
    assert decoded("redis://x", "pins:approved", field(found.key), value(found)) == found


def test_a_namespace_prefix_matches_its_own_fields_only():
    assert field(("fs", "tools", "read")).startswith(namespace_prefix("fs"))
    assert not field(("fsx", "tools", "read")).startswith(namespace_prefix("fs"))
    assert not field(("f", "tools", "read")).startswith(namespace_prefix("fs"))


@pytest.mark.parametrize(
    ("raw_field", "raw_value"),
    [
        (b"not json", b'["d", "b"]'),
        (b'["fs", "tools"]', b'["d", "b"]'),
        (b'["fs", "tools", "read"]', b'{"digest": "d"}'),
        (b'["fs", "tools", "read"]', b'["0000", "{}"]'),  # a digest that is not the body's
        (b'["fs", "widgets", "read"]', b'["0000", "{}"]'),
    ],
)
def test_an_entry_that_is_not_a_checked_pin_is_a_clear_error(raw_field: bytes, raw_value: bytes):
    with pytest.raises(PinStoreError, match=r"pin store redis://x: .*'pins:held'"):
        decoded("redis://x", "pins:held", raw_field, raw_value)
