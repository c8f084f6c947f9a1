"""The audit trail of a real gateway under load: SIGKILLed in the middle of 1,000 calls from
several clients, it has recorded every call a client saw answered, and `micro-mcp audit verify`
passes on the files it left (rotated ones included); an edited line then fails it."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import orjson
import pytest

from micro_mcp import codes
from tests.e2e.conftest import demo, http_gateway_process

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "audit-test-token-0123456789"
TOTAL = 1000
CLIENTS = 8
KILL_AFTER = 500
"""Answered calls after which the gateway is killed: the other half is still to come."""
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "one.echo",
    "MCP-Protocol-Version": "2026-07-28",
}
META: dict[str, Any] = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _call(n: int) -> bytes:
    params: dict[str, Any] = {"_meta": META, "name": "one.echo", "arguments": {"text": f"call-{n}"}}
    return orjson.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})


def _result(response: httpx2.Response) -> Any:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
        body = json.loads(data[-1])
    else:
        body = response.json()
    return body.get("result")


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    """`micro-mcp audit verify ARGS`, as an operator runs it."""
    argv = [sys.executable, "-m", "micro_mcp", "audit", "verify", *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("fsync", ["interval", "always"])
async def test_sigkill_during_1000_calls_loses_no_answered_call_and_the_trail_verifies(
    tmp_path: Path, fsync: str
) -> None:
    audit, key = tmp_path / "audit.jsonl", tmp_path / "audit.key"
    config = {
        "token": TOKEN,
        "audit": {
            "path": str(audit),
            "includeArguments": True,  # to match each answered call to its record
            "keyFile": str(key),
            "fsync": fsync,
            "rotateBytes": 128 * 1024,
        },
    }
    answered: set[str] = set()
    enough = anyio.Event()
    async with http_gateway_process(tmp_path, {"one": demo()}, config) as (url, process):

        async def client(first: int) -> None:
            async with httpx2.AsyncClient(timeout=60) as http:
                for n in range(first, TOTAL, CLIENTS):
                    try:
                        response = await http.post(url, content=_call(n), headers=HEADERS)
                    except httpx2.TransportError:
                        return  # the gateway is gone
                    if response.status_code == 200 and _result(response) is not None:
                        answered.add(f"call-{n}")
                    if len(answered) >= KILL_AFTER:
                        enough.set()

        async with anyio.create_task_group() as tg:
            for first in range(CLIENTS):
                tg.start_soon(client, first)
            with anyio.fail_after(120):
                await enough.wait()
            process.kill()  # SIGKILL: nothing is flushed or closed on the way out
        assert await process.wait() == -9
    assert KILL_AFTER <= len(answered) < TOTAL

    _check_trail(tmp_path, key, answered)


def _check_trail(tmp_path: Path, key: Path, answered: set[str]) -> None:
    files = sorted(str(p) for p in tmp_path.glob("audit.jsonl*"))
    assert len(files) >= 2  # rotated at least once: the chain crosses files
    records = [orjson.loads(line) for f in files for line in Path(f).read_bytes().splitlines()]
    calls = {
        r["correlation_id"]: r["arguments"]["text"]
        for r in records
        if r["event"] == "call" and r.get("name") == "one.echo"
    }
    ok = {r["correlation_id"] for r in records if r["event"] == "reply" and r["outcome"] == "ok"}
    recorded = {text for correlation, text in calls.items() if correlation in ok}
    assert answered - recorded == set()  # every answer the clients saw is in the trail

    checked = verify("--key-file", str(key), *reversed(files))  # any order: verify sorts them
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK: ") and "MACs checked" in checked.stdout

    target = Path(files[0])
    lines = target.read_bytes().splitlines(keepends=True)
    middle = len(lines) // 2
    edited = lines[middle].replace(b'"time":1', b'"time":2', 1)  # backdated by decades
    assert edited != lines[middle]
    target.write_bytes(b"".join([*lines[:middle], edited, *lines[middle + 1 :]]))
    broken = verify("--key-file", str(key), *files)
    assert broken.returncode == 1
    assert f"{target}:{middle + 1}: mac does not match: the line was changed" in broken.stdout
    assert f"{target}:{middle + 2}: prev does not match" in broken.stdout
    unkeyed = verify("--key-env", "NO_SUCH_VARIABLE", *files)  # the chain alone finds it too
    assert unkeyed.returncode == 1 and f"{target}:{middle + 2}:" in unkeyed.stdout


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB filesystem (tmpfs) to fill up; mounting needs root."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()!r}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)


def _fill(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"\0" * 512)
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


@pytest.mark.parametrize("failure_mode", ["closed", "open"])
async def test_a_full_disk_refuses_or_serves_by_config_and_the_gateway_recovers(
    tmp_path: Path, tiny_disk: Path, failure_mode: str
) -> None:
    audit, key = tiny_disk / "audit.jsonl", tmp_path / "audit.key"
    config = {
        "token": TOKEN,
        "audit": {"path": str(audit), "keyFile": str(key), "failureMode": failure_mode},
    }
    filler = tiny_disk / "filler"
    async with (
        http_gateway_process(tmp_path, {"one": demo()}, config) as (url, process),
        httpx2.AsyncClient(timeout=60) as http,
    ):
        first = await http.post(url, content=_call(1), headers=HEADERS)
        assert first.status_code == 200 and _result(first) is not None
        await anyio.to_thread.run_sync(_fill, filler)
        answers: list[httpx2.Response] = []
        for n in range(2, 60):  # the audit file's last page may still take a few records
            answers.append(await http.post(url, content=_call(n), headers=HEADERS))
            if failure_mode == "closed" and answers[-1].status_code != 200:
                break
        if failure_mode == "closed":
            refused = answers[-1]
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error["code"] == codes.AUDIT_UNAVAILABLE
            assert "No space left on device" in error["message"]
        else:
            assert all(a.status_code == 200 and _result(a) is not None for a in answers)
            scraped = (await http.get(url.replace("/mcp", "/metrics"))).text
            assert 'micro_mcp_audit_failures_total{failure_mode="open"}' in scraped
        assert process.returncode is None  # the gateway lives on
        await anyio.to_thread.run_sync(filler.unlink)
        back = await http.post(url, content=_call(99), headers=HEADERS)
        assert back.status_code == 200 and _result(back) is not None
        assert process.returncode is None
    log = await anyio.Path(tmp_path / "gateway-http.log").read_text()
    assert "audit: the trail cannot be written" in log
    assert "audit: the trail is written again" in log
    checked = verify("--key-file", str(key), str(audit))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert '"call-99"' not in await anyio.Path(audit).read_text()  # arguments are digests


def test_the_quickstart_verify_example_runs_as_written(tmp_path: Path) -> None:
    demo_py = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
    ran = subprocess.run(
        [sys.executable, str(demo_py), "--audit", "demo-audit.jsonl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    trail, key = tmp_path / "demo-audit.jsonl", tmp_path / "demo-audit.key"
    checked = verify("--key-file", str(key), str(trail))
    assert checked.returncode == 0 and checked.stdout.startswith("OK: ")  # counts vary by run
    assert "MACs checked" in checked.stdout
    lines = trail.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"time":1', '"time":2', 1)  # sed -i '3s/"time":1/"time":2/'
    trail.write_text("".join(lines))
    broken = verify("--key-file", str(key), str(trail))
    assert broken.returncode == 1
    assert broken.stdout.splitlines()[:2] == [
        f"{trail}:3: mac does not match: the line was changed",
        f"{trail}:4: prev does not match: the line before (3) was changed",
    ]
