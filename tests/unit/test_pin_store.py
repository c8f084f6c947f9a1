"""The pin stores: approvals kept, held definitions replaced per service, approval moving one to
the other; a damaged or edited SQLite file is a clear error, never an empty store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from micro_mcp.errors import PinStoreError
from micro_mcp.registry.pin_store import MemoryPinStore, PinStore, SqlitePinStore
from micro_mcp.registry.pins import Pin, pin


def _pin(name: str, description: str, namespace: str = "fs") -> Pin:
    found = pin(namespace, "tools", {"name": name, "description": description})
    assert found is not None
    return found


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> PinStore:
    return MemoryPinStore() if request.param == "memory" else SqlitePinStore(tmp_path / "p.db")


def test_first_sight_approvals_never_overwrite_an_approval(store: PinStore):
    old, new = _pin("read", "old"), _pin("read", "new")
    store.record("fs", [old], [])
    store.record("fs", [new], [])
    assert store.load().approved == {old.key: old}


def test_held_definitions_are_replaced_per_service(store: PinStore):
    a, b, other = _pin("a", "1"), _pin("b", "1"), _pin("a", "1", namespace="vector")
    store.record("fs", [], [a, b])
    store.record("vector", [], [other])
    store.record("fs", [], [b])
    assert set(store.load().held) == {b.key, other.key}


def test_approve_moves_a_held_definition_and_returns_the_old_one(store: PinStore):
    old, new = _pin("read", "old"), _pin("read", "new")
    store.record("fs", [old], [new])
    assert store.approve([new.key, ("fs", "tools", "absent")]) == [(old, new)]
    pins = store.load()
    assert pins.approved == {new.key: new}
    assert pins.held == {}


def test_the_sqlite_store_survives_a_reopen(tmp_path: Path):
    path = tmp_path / "state" / "pins.sqlite"
    SqlitePinStore(path).record("fs", [_pin("read", "x")], [_pin("write", "y")])
    pins = SqlitePinStore(path).load()
    assert list(pins.approved) == [("fs", "tools", "read")]
    assert list(pins.held) == [("fs", "tools", "write")]


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "pins.sqlite"
    path.write_bytes(b"this is not sqlite, it is " + b"\x00garbage" * 200)
    with pytest.raises(PinStoreError, match=r"pins\.sqlite.*cannot be used.*move it aside"):
        SqlitePinStore(path).load()


def test_a_truncated_database_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "pins.sqlite"
    store = SqlitePinStore(path)
    store.record("fs", [_pin(f"t{i}", "x" * 500) for i in range(50)], [])
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(PinStoreError, match=r"pins\.sqlite"):
        store.load()


def test_an_edited_record_fails_its_check(tmp_path: Path):
    path = tmp_path / "pins.sqlite"
    SqlitePinStore(path).record("fs", [_pin("read", "harmless")], [])
    with sqlite3.connect(path) as db:
        db.execute('UPDATE approved SET body = \'{"name":"read","description":"evil"}\'')
    db.close()
    with pytest.raises(PinStoreError, match=r"'approved' fails its check.*'read'"):
        SqlitePinStore(path).load()


def test_a_newer_schema_is_refused(tmp_path: Path):
    path = tmp_path / "pins.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(PinStoreError, match="schema version 99"):
        SqlitePinStore(path).load()


def test_an_unwritable_place_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PinStoreError, match="cannot be used"):
        SqlitePinStore(blocker / "pins.sqlite").load()
