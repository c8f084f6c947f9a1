"""Where documents live: an embedded SQLite database, in a file or in memory.

The database is the record; the search indexes are rebuilt from it when the server starts.
A file is opened in WAL mode with an exclusive lock held for the server's lifetime: a second
server on the same file would keep an index that misses the first one's writes, so it is
refused at once instead. Every write is its own transaction, committed before the tool
returns.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from micro_mcp.services.vector.errors import StoreError
from micro_mcp.services.vector.filters import Scalar

SCHEMA_VERSION = 1
"""Stored in `PRAGMA user_version`; a file written by a newer schema is refused."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (name TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY,            -- insertion order; a replaced document gets a new one
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    text TEXT NOT NULL,
    snippet TEXT NOT NULL,
    metadata TEXT NOT NULL,             -- a JSON object
    embedding BLOB,                     -- float32 vector, or NULL when not (yet) embedded
    UNIQUE (collection, id)
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document as the database holds it."""

    collection: str
    id: str
    text: str
    metadata: dict[str, Scalar]
    embedding: bytes | None


@contextmanager
def _translated(action: str) -> Generator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"database error while {action}: {exc}") from exc


class Database:
    """The documents of every collection; `path=None` keeps them in memory."""

    def __init__(self, path: Path | None = None) -> None:
        """Open (creating if needed) the database at `path`, or an in-memory one.

        Raises:
            StoreError: The file cannot be opened, is not such a database, or is in use.
        """
        self.path = path
        action = f"opening {path or 'the in-memory database'}"
        with _translated(action):
            # timeout=0: a file locked by another server fails at once rather than hanging.
            self._db = sqlite3.connect(":memory:" if path is None else path, timeout=0)
        try:
            with _translated(action):
                self._open()
        except StoreError as exc:
            self._db.close()
            cause = exc.__cause__
            if isinstance(cause, sqlite3.Error) and cause.sqlite_errorname == "SQLITE_BUSY":
                raise StoreError(f"{path} is in use by another process") from cause
            raise

    def _open(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer version (schema {version})")
        if self.path is not None:
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # Takes the lock now rather than at the first write; locking_mode keeps it.
            self._db.execute("BEGIN EXCLUSIVE").close()
            self._db.commit()
        with self._db:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database; later calls fail."""
        self._db.close()

    def collections(self) -> list[str]:
        """The names of all collections, sorted."""
        with _translated("listing collections"):
            return [name for (name,) in self._db.execute("SELECT name FROM collections ORDER BY 1")]

    def documents(self) -> Iterator[StoredDocument]:
        """Every document, in insertion order."""
        with _translated("reading documents"):
            rows = self._db.execute(
                "SELECT collection, id, text, metadata, embedding FROM documents ORDER BY seq"
            )
            for collection, doc_id, text, metadata, embedding in rows:
                yield StoredDocument(collection, doc_id, text, json.loads(metadata), embedding)

    def create(self, collection: str) -> None:
        """Make sure `collection` exists."""
        with _translated("creating a collection"), self._db:
            self._db.execute("INSERT OR IGNORE INTO collections VALUES (?)", (collection,))

    def put(
        self,
        collection: str,
        doc_id: str,
        text: str,
        snippet: str,
        metadata: Mapping[str, Scalar],
        embedding: bytes | None,
    ) -> None:
        """Store a document, replacing any with the same id in the collection."""
        try:
            encoded = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
        except ValueError as exc:
            raise StoreError("metadata numbers must be finite") from exc
        with _translated("storing a document"), self._db:
            self._db.execute("INSERT OR IGNORE INTO collections VALUES (?)", (collection,))
            self._db.execute(
                "INSERT OR REPLACE INTO documents"
                " (collection, id, text, snippet, metadata, embedding) VALUES (?, ?, ?, ?, ?, ?)",
                (collection, doc_id, text, snippet, encoded, embedding),
            )

    def delete(self, collection: str, doc_id: str) -> None:
        """Delete one document."""
        with _translated("deleting a document"), self._db:
            self._db.execute(
                "DELETE FROM documents WHERE collection = ? AND id = ?", (collection, doc_id)
            )

    def drop(self, collection: str) -> None:
        """Delete a collection and all its documents."""
        with _translated("deleting a collection"), self._db:
            self._db.execute("DELETE FROM documents WHERE collection = ?", (collection,))
            self._db.execute("DELETE FROM collections WHERE name = ?", (collection,))

    def summaries(
        self, collection: str, ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Scalar]]]:
        """The snippet and metadata of each of `ids` in `collection`."""
        marks = ",".join("?" * len(ids))  # the ids themselves travel as parameters
        with _translated("reading search hits"):
            rows = self._db.execute(
                f"SELECT id, snippet, metadata FROM documents"
                f" WHERE collection = ? AND id IN ({marks})",
                (collection, *ids),
            )
            return {doc_id: (snippet, json.loads(metadata)) for doc_id, snippet, metadata in rows}

    def set_embeddings(self, updates: Sequence[tuple[str, str, bytes]]) -> None:
        """Store the embeddings of existing documents, given as (collection, id, vector)."""
        with _translated("storing embeddings"), self._db:
            self._db.executemany(
                "UPDATE documents SET embedding = ? WHERE collection = ? AND id = ?",
                [(blob, collection, doc_id) for collection, doc_id, blob in updates],
            )

    def setting(self, key: str) -> str | None:
        """The stored value of a setting, if any."""
        with _translated("reading settings"):
            row: Any = self._db.execute(
                "SELECT value FROM settings WHERE key = ?", (key,)
            ).fetchone()
            return None if row is None else str(row[0])

    def change_embedding_model(self, identity: str) -> bool:
        """Record that vectors come from the model `identity`; True if it differs from before.

        When it differs, every stored vector is cleared, since vectors of two models do not
        compare; the caller embeds the documents again.
        """
        if self.setting("embedding_model") == identity:
            return False
        with _translated("changing the embedding model"), self._db:
            self._db.execute("UPDATE documents SET embedding = NULL")
            self._db.execute(
                "INSERT OR REPLACE INTO settings VALUES ('embedding_model', ?)", (identity,)
            )
        return True
