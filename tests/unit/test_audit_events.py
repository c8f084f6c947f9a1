"""Audit records and argument fingerprints."""

from __future__ import annotations

import orjson

from micro_mcp.audit.events import AuditEvent, fingerprint
from micro_mcp.audit.sinks import AuditTail, MemoryAuditSink


def test_to_json_leaves_out_fields_that_are_none():
    event = AuditEvent("call", 1700000000.5, "c-1", "ci", "tools/call", name="fs.read")
    assert orjson.loads(event.to_json()) == {
        "event": "call",
        "time": 1700000000.5,
        "correlation_id": "c-1",
        "principal": "ci",
        "method": "tools/call",
        "name": "fs.read",
    }


def test_to_json_keeps_falsy_values_that_are_not_none():
    event = AuditEvent(
        "reply", 0.0, "c", "p", "tools/call", error_code=0, arguments={}, duration_ms=0.0
    )
    record = orjson.loads(event.to_json())
    assert record["arguments"] == {}
    assert record["error_code"] == 0
    assert record["duration_ms"] == 0.0
    assert record["time"] == 0.0


def test_to_json_is_exactly_one_line_even_with_newlines_in_values():
    event = AuditEvent("call", 1.0, "c", "p", "tools/call", arguments={"text": "a\nb\r\nc"})
    line = event.to_json()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert orjson.loads(line)["arguments"] == {"text": "a\nb\r\nc"}


def test_fingerprint_is_stable_across_key_order():
    first = {"b": 1, "a": {"y": [1, 2], "x": None}}
    second = {"a": {"x": None, "y": [1, 2]}, "b": 1}
    assert fingerprint(first) == fingerprint(second)


def test_fingerprint_is_size_and_sha256_of_canonical_json():
    size, digest = fingerprint({"b": 1, "a": "é"})
    assert size == len('{"a":"é","b":1}'.encode())
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")


def test_fingerprint_differs_when_a_value_differs():
    assert fingerprint({"path": "a.txt"}) != fingerprint({"path": "b.txt"})
    assert fingerprint([1, 2]) != fingerprint([2, 1])


def test_the_audit_tail_passes_every_event_on_and_keeps_the_last_ones_numbered() -> None:
    inner = MemoryAuditSink()
    tail = AuditTail(inner, size=2)
    events = [AuditEvent("call", float(n), str(n), "p", "tools/call") for n in range(3)]
    for event in events:
        tail.emit(event)
    assert inner.events == events
    assert tail.since(0) == [(2, events[1]), (3, events[2])]
    assert tail.since(2) == [(3, events[2])]
    assert tail.since(3) == []
