"""The hash chain and `audit verify`: a changed, removed, reordered or cut-short line is found,
and where; a rotated trail verifies as one chain."""

from __future__ import annotations

import orjson

from micro_mcp.audit.chain import GENESIS, Chain, line_hash, mac_ok
from micro_mcp.audit.verify import Report, verify

KEY = b"k" * 32


def _trail(count: int, key: bytes | None = None, chain: Chain | None = None) -> list[bytes]:
    chain = chain if chain is not None else Chain(key=key)
    return [chain.seal(orjson.dumps({"event": "call", "n": n})) for n in range(count)]


def _check(lines: list[bytes], key: bytes | None = None) -> Report:
    return verify([("audit.jsonl", lines)], key)


def _where(report: Report) -> list[tuple[int, str]]:
    return [(p.line, p.what) for p in report.problems]


def test_a_sealed_line_starts_with_its_seq_and_the_hash_of_the_line_before() -> None:
    first, second = _trail(2)
    assert orjson.loads(first) == {"seq": 0, "prev": GENESIS, "event": "call", "n": 0}
    assert orjson.loads(second)["prev"] == line_hash(first)
    assert first.endswith(b"}\n") and first.count(b"\n") == 1


def test_an_untouched_trail_verifies_with_and_without_a_key() -> None:
    assert _check(_trail(5)).ok
    report = _check(_trail(5, KEY), KEY)
    assert (report.ok, report.records, report.last_seq, report.macs_checked) == (True, 5, 4, True)


def test_a_changed_line_breaks_the_prev_of_the_next_line() -> None:
    lines = _trail(5)
    lines[2] = lines[2].replace(b'"n":2', b'"n":7')
    assert _where(_check(lines)) == [(4, "prev does not match: the line before (3) was changed")]


def test_with_a_key_a_changed_line_is_named_itself_even_the_last() -> None:
    lines = _trail(5, KEY)
    lines[4] = lines[4].replace(b'"n":4', b'"n":9')
    assert _where(_check(lines, KEY)) == [(5, "mac does not match: the line was changed")]
    assert _check(lines).ok  # why the key matters: without it the last line is unprotected


def test_a_rewritten_chain_is_caught_by_the_mac() -> None:
    forged = _trail(3)  # someone without the key re-seals every line
    report = _check(forged, KEY)
    assert [w for _, w in _where(report)] == ["no mac: the line is not signed"] * 3
    other = _trail(3, b"x" * 32)
    assert {w for _, w in _where(_check(other, KEY))} == {
        "mac does not match: the line was changed"
    }


def test_a_removed_line_is_found_where_the_gap_is() -> None:
    lines = _trail(5)
    del lines[1]
    assert _where(_check(lines)) == [(2, "seq 2, expected 1: 1 record(s) removed before this line")]


def test_reordered_lines_are_found() -> None:
    lines = _trail(5)
    lines[1], lines[2] = lines[2], lines[1]
    assert _where(_check(lines)) == [
        (2, "seq 2, expected 1: 1 record(s) removed before this line"),
        (3, "seq 1 after 2: a line out of order or repeated"),
    ]


def test_a_line_cut_short_is_found() -> None:
    lines = _trail(3)
    lines[2] = lines[2][:20]
    assert _where(_check(lines)) == [(3, "cut short: the line does not end")]


def test_a_line_that_is_no_record_is_found() -> None:
    lines = _trail(3)
    lines.insert(1, b'{"event":"call"}\n')
    assert _where(_check(lines))[0] == (2, "not an audit record (no seq and prev)")


def test_a_trail_missing_its_beginning_fails_unless_partial() -> None:
    lines = _trail(5)[2:]
    assert _where(_check(lines)) == [
        (1, "the trail starts at seq 2: earlier records are missing (--partial accepts it)")
    ]
    assert verify([("a", lines)], None, partial=True).ok


def test_rotated_files_verify_as_one_chain_in_any_order_given() -> None:
    chain = Chain(key=KEY)
    first, second, third = _trail(3, chain=chain), _trail(3, chain=chain), _trail(2, chain=chain)
    files = [("audit.jsonl", third), ("audit.jsonl.1", first), ("audit.jsonl.2", second)]
    report = verify(files, KEY)
    assert (report.ok, report.records, report.head) == (True, 8, line_hash(third[-1]))


def test_a_missing_rotated_file_is_found() -> None:
    chain = Chain()
    first, second, third = _trail(3, chain=chain), _trail(3, chain=chain), _trail(2, chain=chain)
    report = verify([("audit.jsonl.1", first), ("audit.jsonl", third)], None)
    assert [str(p) for p in report.problems] == [
        "audit.jsonl:1: seq 6, expected 3: 3 record(s) removed before this line"
    ]
    del second


def test_a_file_that_does_not_continue_the_one_before_is_found() -> None:
    first = _trail(3)
    other = Chain(seq=3, prev="f" * 64)
    report = verify([("a.1", first), ("a", _trail(2, chain=other))], None)
    assert _where(report) == [
        (1, "prev does not match: this file does not continue the previous one")
    ]


def test_mac_ok_is_none_for_an_unsigned_line_and_checks_a_signed_one() -> None:
    (unsigned,) = _trail(1)
    (signed,) = _trail(1, KEY)
    assert mac_ok(KEY, unsigned) is None
    assert mac_ok(KEY, signed) is True
    assert mac_ok(b"y" * 32, signed) is False


def test_an_empty_event_is_sealed_as_a_valid_record() -> None:
    line = Chain(key=KEY).seal(b"{}")
    assert orjson.loads(line)["seq"] == 0
    assert mac_ok(KEY, line) is True
