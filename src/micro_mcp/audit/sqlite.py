"""The SQLite sink: the same sealed lines as the file, one row each (`audit(seq, line)`), so
`micro-mcp audit verify` checks a database as it checks a file, and SQL can query the trail."""

from __future__ import annotations

import sqlite3

from micro_mcp.audit.chain import Chain, line_hash
from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.verify import as_bytes

SCHEMA = "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, line BLOB NOT NULL)"


class SqliteSink:
    """Inserts each event, sealed into the database's own chain, in a transaction of its own."""

    def __init__(self, path: str, *, key: bytes | None = None, durable: bool = False) -> None:
        """Open (or create) the database and resume its chain. `durable` commits with
        `synchronous=FULL` (on disk at commit); otherwise WAL's `NORMAL`, which a killed
        gateway does not lose either.

        Raises:
            sqlite3.Error: the database cannot be opened.
        """
        self.path = path
        self.chain = Chain(key=key)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.execute(SCHEMA)
        last = self._db.execute("SELECT seq, line FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if last is not None:
            self.chain.seq = int(last[0]) + 1
            self.chain.prev = line_hash(as_bytes(last[1]))

    def emit(self, event: AuditEvent) -> None:
        """Seal and insert the event.

        Raises:
            sqlite3.Error: the row could not be written (the chain has not moved).
        """
        line = self.chain.peek(event.to_json()[:-1])
        self._db.execute("INSERT INTO audit (seq, line) VALUES (?, ?)", (self.chain.seq, line))
        self.chain.advance(line)

    async def settle(self) -> None:
        """Every insert is committed when `emit` returns: nothing to wait for."""

    def close(self) -> None:
        """Close the database."""
        self._db.close()
