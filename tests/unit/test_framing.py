"""LineFramer: newline framing with a size limit, fed chunk by chunk."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp.transport.framing import LineFramer, Oversized


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[bytes | Oversized]:
    out: list[bytes | Oversized] = []
    for chunk in chunks:
        out.extend(framer.feed(chunk))
    return out


def test_line_split_across_chunks_is_joined():
    framer = LineFramer(max_bytes=64)
    assert framer.feed(b'{"a":') == []
    assert framer.feed(b" 1") == []
    assert framer.feed(b"}\n") == [b'{"a": 1}']
    assert framer.pending() == 0


def test_several_lines_in_one_chunk_are_all_returned_in_order():
    framer = LineFramer(max_bytes=64)
    assert framer.feed(b"one\ntwo\nthree\nfour") == [b"one", b"two", b"three"]
    assert framer.pending() == len(b"four")
    assert framer.feed(b"\n") == [b"four"]


def test_blank_and_whitespace_only_lines_are_skipped():
    framer = LineFramer(max_bytes=64)
    assert framer.feed(b"\n\n  \n\t\nx\n\n") == [b"x"]


def test_line_exactly_at_the_limit_passes():
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"12345678\n") == [b"12345678"]


def test_line_exactly_at_the_limit_passes_when_split_across_chunks():
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"1234") == []
    assert framer.feed(b"5678") == []
    assert framer.pending() == 8
    assert framer.feed(b"\n") == [b"12345678"]


def test_line_one_byte_over_the_limit_is_reported_once_as_oversized():
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"123456789\n") == [Oversized(9)]


def test_framer_recovers_on_the_line_after_an_oversized_one():
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"123456789\nok\n") == [Oversized(9), b"ok"]
    assert framer.feed(b"again\n") == [b"again"]


def test_oversized_line_split_across_chunks_is_reported_once_with_its_full_size():
    framer = LineFramer(max_bytes=8)
    assert framer.feed(b"12345") == []
    assert framer.feed(b"6789") == []
    assert framer.feed(b"abc") == []
    assert framer.feed(b"de\nok\n") == [Oversized(14), b"ok"]


def test_unterminated_line_growing_past_the_limit_never_buffers_more_than_max_bytes():
    framer = LineFramer(max_bytes=16)
    for _ in range(1000):
        assert framer.feed(b"x" * 7) == []
        assert framer.pending() <= 16
    assert framer.pending() == 0
    assert framer.feed(b"\nnext\n") == [Oversized(7000), b"next"]


def test_single_chunk_larger_than_the_limit_without_newline_is_not_buffered():
    framer = LineFramer(max_bytes=16)
    assert framer.feed(b"y" * 1024) == []
    assert framer.pending() == 0


def test_partial_line_after_complete_lines_is_kept_within_limit():
    framer = LineFramer(max_bytes=4)
    assert framer.feed(b"ab\ncdef") == [b"ab"]
    assert framer.pending() == 4
    assert framer.feed(b"g") == []
    assert framer.pending() == 0
    assert framer.feed(b"\n") == [Oversized(5)]


def test_crlf_line_keeps_its_carriage_return():
    framer = LineFramer(max_bytes=16)
    assert framer.feed(b"{}\r\n") == [b"{}\r"]


_line = st.binary(min_size=1, max_size=40).filter(lambda b: b"\n" not in b and b.strip() != b"")


@settings(database=None)
@given(lines=st.lists(_line, max_size=20), cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_any_chunking_of_short_lines_yields_exactly_those_lines(lines, cuts):
    stream = b"".join(line + b"\n" for line in lines)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    framer = LineFramer(max_bytes=40)
    assert feed_all(framer, chunks) == lines
    assert framer.pending() == 0


def test_an_oversized_line_keeps_its_head_so_the_reply_id_can_be_found() -> None:
    framer = LineFramer(max_bytes=64)
    line = b'{"jsonrpc":"2.0","id":"call-7","result":{"text":"' + b"x" * 200 + b'"}}\n'
    events = feed_all(framer, [line[:30], line[30:100], line[100:]])
    assert len(events) == 1 and isinstance(events[0], Oversized)
    assert events[0].request_id() == "call-7"
    whole = feed_all(
        LineFramer(max_bytes=64), [b'{"jsonrpc":"2.0","id":12,"result":"' + b"y" * 100 + b'"}\n']
    )
    assert isinstance(whole[0], Oversized) and whole[0].request_id() == 12
