"""Where pins are kept: a small `PinStore` protocol, in memory (tests, `check`) and in SQLite.

The store holds two tables, both keyed by (namespace, kind, name):

- `approved`: the definition an operator (or trust on first use) approved;
- `held`: what each service shows now that is held back, replaced whole per service by the
  gateway, so `micro-mcp approve` can show the change and approve exactly what was seen.

Every record carries its canonical body and the body's SHA-256; `load` checks both, so a file
that is not a database, a table that is missing, or a record that was edited is a
`PinStoreError` naming the file, never an empty store (that would approve everything anew).

The methods block: the gateway calls them in a worker thread (`anyio.to_thread`), the CLI
directly. `redis_pins.RedisPinStore` keeps the same four methods and checks in Redis, for
replicas that share approvals (`state.redis`).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol, cast, get_args

from micro_mcp.errors import PinStoreError
from micro_mcp.registry.pins import Key, Kind, Pin

SCHEMA_VERSION: Final = 1
_KINDS: Final = frozenset(get_args(Kind))


@dataclass(frozen=True, slots=True)
class Pins:
    """The store's contents at one moment."""

    approved: dict[Key, Pin] = field(default_factory=dict[Key, Pin])
    held: dict[Key, Pin] = field(default_factory=dict[Key, Pin])


class PinStore(Protocol):
    """Durable approvals and held definitions (blocking calls; see the module docstring)."""

    def load(self) -> Pins:
        """Everything in the store.

        Raises:
            PinStoreError: the store is unreadable or a record fails its checks.
        """
        ...

    def record(self, namespace: str, approved: Sequence[Pin], held: Sequence[Pin]) -> None:
        """Add approvals seen first (never overwriting an approval) and replace the service's
        held definitions with `held`.

        Raises:
            PinStoreError: the store cannot be written.
        """
        ...

    def approve(self, keys: Iterable[Key]) -> list[tuple[Pin | None, Pin]]:
        """Approve the held definitions of `keys` (one transaction); returns each (previously
        approved, now approved) pair.

        Raises:
            PinStoreError: the store cannot be written.
        """
        ...

    def describe(self) -> str:
        """Where the store is, for messages."""
        ...


class MemoryPinStore:
    """A store in the process: approvals last as long as it does."""

    def __init__(self) -> None:
        self._pins = Pins()

    def load(self) -> Pins:
        """Everything in the store."""
        return Pins(dict(self._pins.approved), dict(self._pins.held))

    def record(self, namespace: str, approved: Sequence[Pin], held: Sequence[Pin]) -> None:
        """Add first-seen approvals; replace the service's held definitions."""
        for pin in approved:
            self._pins.approved.setdefault(pin.key, pin)
        for key in [k for k in self._pins.held if k[0] == namespace]:
            del self._pins.held[key]
        self._pins.held.update((pin.key, pin) for pin in held)

    def approve(self, keys: Iterable[Key]) -> list[tuple[Pin | None, Pin]]:
        """Approve the held definitions of `keys`."""
        done: list[tuple[Pin | None, Pin]] = []
        for key in keys:
            pin = self._pins.held.pop(key, None)
            if pin is not None:
                done.append((self._pins.approved.get(key), pin))
                self._pins.approved[key] = pin
        return done

    def describe(self) -> str:
        """Where the store is."""
        return "memory"


_TABLES: Final = ("approved", "held")
_SCHEMA: Final = "".join(
    f"CREATE TABLE IF NOT EXISTS {table} (namespace TEXT NOT NULL, kind TEXT NOT NULL, "
    "name TEXT NOT NULL, digest TEXT NOT NULL, body TEXT NOT NULL, at REAL NOT NULL, "
    "PRIMARY KEY (namespace, kind, name));"
    for table in _TABLES
)


class SqlitePinStore:
    """Pins in one SQLite file (stdlib `sqlite3`; rollback journal, so every commit changes the
    file itself and a gateway watching it sees the CLI's approvals)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        """The file."""
        return str(self.path)

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                db.close()
                raise PinStoreError(
                    f"pin store {self.path}: schema version {version}, this micro-mcp knows "
                    f"{SCHEMA_VERSION}"
                )
            db.executescript(f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        except (sqlite3.Error, OSError) as exc:
            raise _broken(self.path, exc) from exc
        return db

    def load(self) -> Pins:
        """Everything in the store, each record checked."""
        db = self._connect()
        tables: list[dict[Key, Pin]] = []
        try:
            for table in _TABLES:
                rows = db.execute(f"SELECT namespace, kind, name, digest, body FROM {table}")
                pins = [checked(self.path, table, row) for row in rows]
                tables.append({pin.key: pin for pin in pins})
        except sqlite3.Error as exc:
            raise _broken(self.path, exc) from exc
        finally:
            db.close()
        return Pins(tables[0], tables[1])

    def record(self, namespace: str, approved: Sequence[Pin], held: Sequence[Pin]) -> None:
        """Add first-seen approvals; replace the service's held definitions."""
        db = self._connect()
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT OR IGNORE INTO approved VALUES (?, ?, ?, ?, ?, julianday('now'))",
                    [_row(pin) for pin in approved],
                )
                db.execute("DELETE FROM held WHERE namespace = ?", (namespace,))
                db.executemany(
                    "INSERT INTO held VALUES (?, ?, ?, ?, ?, julianday('now'))",
                    [_row(pin) for pin in held],
                )
        except sqlite3.Error as exc:
            raise _broken(self.path, exc) from exc
        finally:
            db.close()

    def approve(self, keys: Iterable[Key]) -> list[tuple[Pin | None, Pin]]:
        """Approve the held definitions of `keys`, in one transaction."""
        db = self._connect()
        done: list[tuple[Pin | None, Pin]] = []
        try:
            with db:
                db.execute("BEGIN IMMEDIATE")
                for key in keys:
                    new = _one(self.path, db, "held", key)
                    if new is None:
                        continue
                    done.append((_one(self.path, db, "approved", key), new))
                    db.execute(
                        "INSERT OR REPLACE INTO approved VALUES (?, ?, ?, ?, ?, julianday('now'))",
                        _row(new),
                    )
                    db.execute(
                        "DELETE FROM held WHERE namespace = ? AND kind = ? AND name = ?", key
                    )
        except sqlite3.Error as exc:
            raise _broken(self.path, exc) from exc
        finally:
            db.close()
        return done


def _row(pin: Pin) -> tuple[str, str, str, str, str]:
    return (pin.namespace, pin.kind, pin.name, pin.digest, pin.body)


def _one(path: Path, db: sqlite3.Connection, table: str, key: Key) -> Pin | None:
    row = db.execute(
        f"SELECT namespace, kind, name, digest, body FROM {table} "
        "WHERE namespace = ? AND kind = ? AND name = ?",
        key,
    ).fetchone()
    return None if row is None else checked(path, table, row)


def checked(where: str | Path, table: str, row: tuple[object, ...]) -> Pin:
    """A stored record (namespace, kind, name, digest, body) as a `Pin`, once its kind and its
    body's digest check out.

    Raises:
        PinStoreError: they do not (the store was edited or is damaged), naming `where`.
    """
    namespace, kind, name, digest, body = row
    if not (
        isinstance(namespace, str)
        and isinstance(name, str)
        and isinstance(body, str)
        and kind in _KINDS
        and isinstance(digest, str)
        and digest == hashlib.sha256(body.encode()).hexdigest()
    ):
        raise PinStoreError(
            f"pin store {where}: a record in {table!r} fails its check "
            f"({namespace!r}, {kind!r}, {name!r}): the store was edited or is damaged; "
            "restore it from a backup, or move it aside to approve every definition anew"
        )
    return Pin(namespace, cast(Kind, kind), name, digest, body)


def _broken(path: Path, exc: BaseException) -> PinStoreError:
    return PinStoreError(
        f"pin store {path}: cannot be used ({exc}); restore it from a backup, or move it aside "
        "to approve every definition anew"
    )
