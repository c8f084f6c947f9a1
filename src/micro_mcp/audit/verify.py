"""Check an audit trail: every line in its place in the chain, unchanged, and signed when there
is a key. Reads JSON-lines files and the SQLite sink's databases; reports where it broke."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from micro_mcp.audit.chain import GENESIS, line_hash, mac_ok

SQLITE_MAGIC: Final = b"SQLite format 3\x00"


@dataclass(frozen=True, slots=True)
class Problem:
    """One place where the trail is not what was written."""

    file: str
    line: int
    """1-based; for a database, the row in `seq` order."""
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


@dataclass(slots=True)
class Report:
    """What `verify` found."""

    records: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str = GENESIS
    """The hash of the last line: record it elsewhere to detect a rewritten tail later."""
    macs_checked: bool = False
    problems: list[Problem] = field(default_factory=list[Problem])

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def read_lines(path: str) -> list[bytes]:
    """The sealed lines of a file, each with its newline (a last line cut short has none).

    Raises:
        OSError: the file cannot be read.
        sqlite3.Error: a database without the sink's `audit` table.
    """
    with open(path, "rb") as file:
        data = file.read()
    if data.startswith(SQLITE_MAGIC):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT line FROM audit ORDER BY seq")
            return [as_bytes(row[0]) for row in rows]
        finally:
            db.close()
    lines = [part + b"\n" for part in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]  # what follows the last newline: b"" or a cut-short line
    return lines if lines[-1] else lines[:-1]


def as_bytes(value: str | bytes) -> bytes:
    """A stored line as bytes (SQL edits may have turned the BLOB into TEXT)."""
    return value.encode() if isinstance(value, str) else bytes(value)


def verify(
    files: Sequence[tuple[str, list[bytes]]], key: bytes | None, *, partial: bool = False
) -> Report:
    """Check the files of one trail. They are taken in the order of their first `seq`, so a
    shell glob will do. `key` is the record key (derived); `partial` accepts a trail whose
    first files were removed (retention), starting past seq 0."""
    report = Report(macs_checked=key is not None)
    expected: int | None = None
    prev = GENESIS
    for name, lines in sorted(files, key=lambda item: _first_seq(item[1])):
        for number, line in enumerate(lines, 1):
            where = (name, number)
            record = _record(line)
            if not line.endswith(b"\n"):
                report.problems.append(Problem(*where, "cut short: the line does not end"))
                continue
            if record is None:
                report.problems.append(Problem(*where, "not an audit record (no seq and prev)"))
                continue
            seq, claimed = record
            if expected is None:
                report.first_seq = seq
                if seq > 0 and not partial:
                    what = f"the trail starts at seq {seq}: earlier records are missing"
                    report.problems.append(Problem(*where, what + " (--partial accepts it)"))
                elif seq == 0 and claimed != GENESIS:
                    report.problems.append(Problem(*where, "seq 0 does not start a chain"))
            elif seq > expected:
                what = f"seq {seq}, expected {expected}: {seq - expected} record(s) removed"
                report.problems.append(Problem(*where, what + " before this line"))
            elif seq < expected:  # the chain goes on from the highest seq seen
                what = f"seq {seq} after {expected - 1}: a line out of order or repeated"
                report.problems.append(Problem(*where, what))
                _check_mac(report, key, line, where)
                report.records += 1
                continue
            elif claimed != prev:
                what = (
                    "this file does not continue the previous one"
                    if number == 1
                    else f"the line before ({number - 1}) was changed"
                )
                report.problems.append(Problem(*where, f"prev does not match: {what}"))
            _check_mac(report, key, line, where)
            expected = seq + 1
            prev = line_hash(line)
            report.records += 1
            report.last_seq = seq
    report.head = prev
    return report


def _check_mac(report: Report, key: bytes | None, line: bytes, where: tuple[str, int]) -> None:
    if key is None:
        return
    signed = mac_ok(key, line)
    if signed is None:
        report.problems.append(Problem(*where, "no mac: the line is not signed"))
    elif not signed:
        report.problems.append(Problem(*where, "mac does not match: the line was changed"))


def _first_seq(lines: list[bytes]) -> int:
    record = _record(lines[0]) if lines else None
    return record[0] if record is not None else -1


def _record(line: bytes) -> tuple[int, str] | None:
    try:
        data: Any = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    match data:
        case {"seq": int() as seq, "prev": str() as prev} if not isinstance(seq, bool):
            return seq, prev
        case _:
            return None
