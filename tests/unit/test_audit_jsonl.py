"""The JSON-lines sink: a chain that verifies, survives restarts and rotation, never leaves a
partial line on a full disk, and goes on when the disk has room again."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from micro_mcp.audit import jsonl
from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.jsonl import JsonlSink
from micro_mcp.audit.verify import read_lines, verify
from micro_mcp.errors import ConfigError

KEY = b"k" * 32


def _event(n: int, pad: int = 0) -> AuditEvent:
    return AuditEvent("call", 1.5, str(n), "alice", "tools/call", name="fs.read" + "x" * pad)


def _verify(*paths: Path, key: bytes | None = KEY) -> list[str]:
    report = verify([(str(p), read_lines(str(p))) for p in paths], key)
    return [str(p) for p in report.problems]


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB filesystem (tmpfs), to fill up; root only."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def fill(path: Path) -> None:
    """Write to `path` until its filesystem is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as failed:
            while True:
                os.write(fd, b"\0" * 1024)
        assert failed.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_records_form_a_chain_that_verifies(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlSink(str(path), key=KEY)
    for n in range(10):
        sink.emit(_event(n))
    sink.close()
    assert len(read_lines(str(path))) == 10
    assert _verify(path) == []


def test_a_restarted_sink_continues_the_chain_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    for start in (0, 3):
        sink = JsonlSink(str(path), key=KEY)
        for n in range(start, start + 3):
            sink.emit(_event(n))
        sink.close()
    assert sink.chain.seq == 6
    assert _verify(path) == []


def test_a_line_cut_short_at_the_end_is_dropped_on_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlSink(str(path), key=KEY)
    sink.emit(_event(0))
    sink.emit(_event(1))
    sink.close()
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"seq":2,"prev":"ab')  # a power cut mid-write
    assert _verify(path)[-1].endswith("cut short: the line does not end")
    sink = JsonlSink(str(path), key=KEY)
    sink.emit(_event(2))
    sink.close()
    assert _verify(path) == []


def test_a_file_that_is_no_audit_trail_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"this is not JSON\n")
    with pytest.raises(ConfigError, match="not a sealed audit record"):
        JsonlSink(str(path))
    assert path.read_bytes() == b"this is not JSON\n"


def test_a_trail_from_before_the_chain_is_moved_aside_and_a_new_chain_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "audit.jsonl"
    old = b'{"event":"call","time":1.0,"correlation_id":"1","principal":"a","method":"m"}\n'
    path.write_bytes(old)
    sink = JsonlSink(str(path), key=KEY)
    sink.emit(_event(0))
    sink.close()
    (aside,) = tmp_path.glob("audit-unchained-*.jsonl")
    assert aside.read_bytes() == old
    assert _verify(path) == []
    assert "moved to" in caplog.text


def test_rotation_starts_new_files_and_the_chain_runs_through_them(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlSink(str(path), key=KEY, rotate_bytes=1024)
    for n in range(30):
        sink.emit(_event(n, pad=100))
    sink.close()
    rotated = sorted(tmp_path.glob("audit.jsonl.*"), key=lambda p: int(p.suffix[1:]))
    assert len(rotated) >= 3
    assert all(p.stat().st_size >= 1024 for p in rotated)
    files = [path, *rotated]  # given out of order on purpose: verify orders them
    assert _verify(*files) == []
    assert sum(len(read_lines(str(p))) for p in files) == 30
    assert _verify(path, *rotated[1:])[0].startswith(f"{rotated[1]}:1: the trail starts at seq")


def test_a_full_disk_leaves_no_partial_line_and_the_sink_recovers(tiny_fs: Path) -> None:
    path = tiny_fs / "audit.jsonl"
    sink = JsonlSink(str(path), key=KEY)
    sink.emit(_event(0))
    filler = tiny_fs / "filler"
    fill(filler)
    failures = 0
    for n in range(1, 40):  # the last free bytes go, then the disk is full
        try:
            sink.emit(_event(n, pad=200))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            failures += 1
    assert failures > 0
    assert _verify(path) == []  # what is in the file is whole lines of one chain
    written = len(read_lines(str(path)))
    filler.unlink()
    sink.emit(_event(99))
    sink.close()
    assert len(read_lines(str(path))) == written + 1
    assert _verify(path) == []


def test_a_file_that_cannot_be_opened_yet_is_opened_when_it_can(tmp_path: Path) -> None:
    path = tmp_path / "later" / "audit.jsonl"
    sink = JsonlSink(str(path), key=KEY)
    with pytest.raises(FileNotFoundError):
        sink.emit(_event(0))
    path.parent.mkdir()
    sink.emit(_event(1))
    sink.close()
    assert _verify(path) == []


@pytest.mark.anyio
async def test_fsync_always_shares_one_fsync_among_concurrent_waiters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = jsonl._sync_and_close  # pyright: ignore[reportPrivateUsage]

    def counting(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(jsonl, "_sync_and_close", counting)
    sink = JsonlSink(str(tmp_path / "audit.jsonl"), fsync="always")
    settled: list[int] = []

    async def call(n: int) -> None:
        sink.emit(_event(n))
        await sink.settle()
        settled.append(n)

    async with anyio.create_task_group() as tg:
        for n in range(50):
            tg.start_soon(call, n)
    sink.close()
    assert sorted(settled) == list(range(50))
    assert 1 <= len(synced) < 50


@pytest.mark.anyio
async def test_fsync_never_and_interval_do_not_wait(tmp_path: Path) -> None:
    for policy in ("never", "interval"):
        sink = JsonlSink(str(tmp_path / f"{policy}.jsonl"), fsync=policy)
        sink.emit(_event(0))
        await sink.settle()
        sink.close()
        assert len(read_lines(str(tmp_path / f"{policy}.jsonl"))) == 1


def test_the_file_is_private_to_the_gateway(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    JsonlSink(str(path)).close()
    assert os.stat(path).st_mode & 0o077 == 0


@pytest.mark.anyio
async def test_a_device_takes_the_records_and_is_never_synced_or_rotated() -> None:
    # /dev/null refuses fsync (EINVAL): an operator who sends the trail nowhere, or to a
    # device, must not have every call refused for a failing audit.
    sink = JsonlSink(os.devnull, key=KEY, fsync="always", rotate_bytes=1)
    for n in range(3):
        sink.emit(_event(n))
        await sink.settle()
    sink.close()
    assert await anyio.Path(os.devnull).is_char_device()
    assert not await anyio.Path(os.devnull + ".1").exists()


def test_a_pipe_a_shipper_reads_gets_every_line_and_is_not_renamed(tmp_path: Path) -> None:
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        sink = JsonlSink(str(fifo), key=KEY, fsync="interval", fsync_interval=0, rotate_bytes=1)
        for n in range(3):
            sink.emit(_event(n))
        sink.close()
        lines = os.read(reader, 65536).splitlines()
    finally:
        os.close(reader)
    assert len(lines) == 3 and fifo.exists() and not (tmp_path / "audit.fifo.1").exists()
