"""A failing audit sink: `closed` refuses, `open` serves and alerts, both recover by themselves;
the keys; the SQLite and OTLP sinks carry the same sealed lines."""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from pathlib import Path

import orjson
import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

from micro_mcp import codes
from micro_mcp.audit.breaker import Breaker
from micro_mcp.audit.chain import ARGUMENTS_KEY_LABEL, RECORD_KEY_LABEL, derive
from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.keys import from_key, load_key
from micro_mcp.audit.otlp import OtlpSink
from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.audit.sqlite import SqliteSink
from micro_mcp.audit.verify import read_lines, verify
from micro_mcp.errors import AuditUnavailable, ConfigError

EVENT = AuditEvent("call", 1.5, "1", "alice", "tools/call", name="fs.read")


class Disk:
    """A sink whose disk can fill up: `full` makes every write fail as a full disk does."""

    def __init__(self) -> None:
        self.full = False
        self.lines: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        if self.full:
            raise OSError(28, "No space left on device")
        self.lines.append(event)

    async def settle(self) -> None:
        if self.full:
            raise OSError(28, "No space left on device")

    def close(self) -> None:
        pass


def test_failing_closed_refuses_until_the_sink_writes_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk, failures = Disk(), list[str]()
    breaker = Breaker([disk], "closed", failures.append)
    disk.full = True
    for _ in range(2):
        with pytest.raises(AuditUnavailable) as refused:
            breaker.emit(EVENT)
        assert refused.value.code == codes.AUDIT_UNAVAILABLE
        assert "No space left on device" in refused.value.message
    assert failures == ["closed", "closed"]
    assert [r.levelname for r in caplog.records] == ["ERROR"]  # said once, not per record
    disk.full = False
    breaker.emit(EVENT)
    assert (breaker.down, len(disk.lines)) == (None, 1)
    assert "written again" in caplog.records[-1].getMessage()


def test_failing_open_serves_and_alerts(caplog: pytest.LogCaptureFixture) -> None:
    disk, memory, failures = Disk(), MemoryAuditSink(), list[str]()
    breaker = Breaker([disk, memory], "open", failures.append)
    disk.full = True
    breaker.emit(EVENT)
    assert failures == ["open"]
    assert memory.events == [EVENT]  # the other sinks still get it
    assert "UNAUDITED" in caplog.records[0].getMessage()


@pytest.mark.anyio
async def test_a_failed_settle_refuses_when_closed_and_does_not_when_open() -> None:
    disk = Disk()
    disk.full = True
    with pytest.raises(AuditUnavailable):
        await Breaker([disk], "closed").settle()
    await Breaker([disk], "open").settle()


def test_a_key_from_the_environment_is_used_and_a_short_one_refused(tmp_path: Path) -> None:
    assert load_key("K", None, {"K": "s" * 20}) == b"s" * 20
    with pytest.raises(ConfigError, match="at least 16"):
        load_key("K", None, {"K": "short"})
    assert load_key("K", None, {}) is None


def test_a_key_file_is_made_on_first_start_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    first = load_key("K", str(path), {})
    assert first is not None and len(first) == 64
    assert path.stat().st_mode & 0o077 == 0
    assert load_key("K", str(path), {}) == first


def test_argument_digests_are_keyed() -> None:
    keys = from_key(b"d" * 32)
    data = orjson.dumps({"a": 1})
    expected = hmac.new(derive(b"d" * 32, ARGUMENTS_KEY_LABEL), data, hashlib.sha256)
    assert keys.digest({"a": 1}) == (len(data), expected.hexdigest())
    assert keys.digest({"a": 1})[1] != hashlib.sha256(data).hexdigest()
    assert from_key(None).digest({"a": 1}) != from_key(None).digest({"a": 1})  # run-only keys


def test_the_sqlite_sink_holds_a_chain_that_verifies_across_restarts(tmp_path: Path) -> None:
    path, key = str(tmp_path / "audit.db"), derive(b"d" * 32, RECORD_KEY_LABEL)
    for _ in range(2):
        sink = SqliteSink(path, key=key)
        for _ in range(3):
            sink.emit(EVENT)
        sink.close()
    lines = read_lines(path)
    assert len(lines) == 6
    assert verify([(path, lines)], key).ok
    db = sqlite3.connect(path)
    db.execute("UPDATE audit SET line = replace(line, 'alice', 'mallory') WHERE seq = 2")
    db.commit()
    db.close()
    assert [p.line for p in verify([(path, read_lines(path))], key).problems] == [3, 4]


def test_the_otlp_sink_exports_each_sealed_line_as_a_log_record() -> None:
    exporter = InMemoryLogRecordExporter()
    sink = OtlpSink(exporter, key=b"r" * 32, batch=False)
    sink.emit(EVENT)
    sink.emit(EVENT)
    sink.close()
    records = exporter.get_finished_logs()
    lines = [str(r.log_record.body).encode() + b"\n" for r in records]
    assert verify([("otlp", lines)], b"r" * 32).ok
    assert [r.log_record.attributes["audit.seq"] for r in records if r.log_record.attributes] == [
        0,
        1,
    ]


def test_breaker_logs_a_sink_that_fails_to_close(caplog: pytest.LogCaptureFixture) -> None:
    class Stuck(Disk):
        def close(self) -> None:
            raise OSError(5, "I/O error")

    caplog.set_level(logging.ERROR)
    Breaker([Stuck()]).close()
    assert "closing a sink failed" in caplog.text
