"""Named collections of documents, searchable by shared words and, optionally, by meaning.

`VectorStore` is what the server talks to. It keeps every document in a `Database` (the
record) and, per collection, in-memory indexes rebuilt from it at start: `SparseIndex` (word
counts, for `search`), `DenseIndex` (embeddings, in the dense mode) and `MetadataIndex` (for
filters). A document occupies a row; rows follow insertion order, which also breaks ties
between equal scores. Deleting or replacing a document only marks its row dead; once dead rows
outnumber live ones, the collection is compacted, so the indexes stay proportional to the
documents they hold.
"""

from __future__ import annotations

import re
import uuid
from array import array
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from micro_mcp.services.vector.database import Database
from micro_mcp.services.vector.dense import DenseIndex
from micro_mcp.services.vector.errors import StoreError
from micro_mcp.services.vector.filters import MetadataIndex, Scalar, Where
from micro_mcp.services.vector.sparse import SparseIndex, word_counts

DEFAULT_COLLECTION = "default"
"""The collection used when none is named; it always exists."""

COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""What a collection name looks like."""

SNIPPET_CHARS = 200
"""Longest snippet of a document shown in a hit."""

_MIN_DEAD_ROWS = 1024
"""Dead rows tolerated before compaction is considered at all, so small stores never churn."""

_LOAD_BATCH = 2048
"""Stored documents indexed at once when the store opens. Measured at 100k documents: 8192
loads ~20% faster but leaves the process ~60 MiB larger (the batch's word counts, freed but
kept by the allocator); 512 saves little more memory and loads slower."""

_COLLECTION_NAME = re.compile(COLLECTION_PATTERN)

_Vector = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result."""

    id: str
    score: float
    snippet: str
    metadata: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True)
class EmbeddingSpace:
    """Which model the dense vectors come from, and how long they are."""

    identity: str
    dimension: int


@dataclass(frozen=True, slots=True)
class PendingEmbedding:
    """A stored document whose vector is still to be computed."""

    collection: str
    id: str
    text: str


class _Collection:
    """One collection's indexes; rows are positions in insertion order."""

    def __init__(self, dimension: int | None) -> None:
        self.ids: list[str | None] = []  # by row; None once the row is dead
        self.rows: dict[str, int] = {}  # live documents only
        self.alive = array("b")
        self.sparse = SparseIndex()
        self.metadata = MetadataIndex()
        self.dense = None if dimension is None else DenseIndex(dimension)

    def __len__(self) -> int:
        return len(self.rows)

    def put(
        self, doc_id: str, counts: Counter[str], metadata: Mapping[str, Scalar], vector: _Vector
    ) -> None:
        self.remove(doc_id)
        row = len(self.ids)
        self.ids.append(doc_id)
        self.rows[doc_id] = row
        self.alive.append(1)
        self.sparse.add(row, counts)
        self.metadata.add(row, metadata)
        if self.dense is not None:
            self.dense.add(row, vector)

    def load(
        self, documents: list[tuple[str, Counter[str], Mapping[str, Scalar], _Vector]]
    ) -> None:
        """Append stored documents, whose ids are new to the collection, in bulk."""
        for doc_id, _, metadata, vector in documents:
            row = len(self.ids)
            self.ids.append(doc_id)
            self.rows[doc_id] = row
            self.metadata.add(row, metadata)
            if self.dense is not None:
                self.dense.add(row, vector)
        self.alive.frombytes(bytes([1]) * len(documents))
        self.sparse.add_many([counts for _, counts, _, _ in documents])

    def remove(self, doc_id: str) -> None:
        row = self.rows.pop(doc_id, None)
        if row is None:
            return
        self.ids[row] = None
        self.alive[row] = 0
        self.sparse.remove(row)
        dead = len(self.ids) - len(self.rows)
        if dead > max(_MIN_DEAD_ROWS, len(self.rows)):
            self._compact()

    def _compact(self) -> None:
        keep = np.frombuffer(self.alive, dtype=np.int8).astype(np.bool_)
        new_row = np.where(keep, np.cumsum(keep) - 1, -1)
        self.sparse.compact(new_row)
        self.metadata.compact(new_row)
        if self.dense is not None:
            self.dense.compact(new_row)
        live = [doc_id for doc_id in self.ids if doc_id is not None]
        self.ids = list(live)
        self.rows = {doc_id: row for row, doc_id in enumerate(live)}
        self.alive = array("b", bytes([1]) * len(live))

    def rank(
        self, scores: NDArray[np.float64], k: int, where: Where | None, positive: bool
    ) -> list[tuple[str, float]]:
        """The `k` best live rows passing `where`, best first, ties in row order.

        Scores are rounded to six places, so identical texts read as 1.0 rather than
        0.9999999999999998.
        """
        eligible = np.frombuffer(self.alive, dtype=np.int8).astype(np.bool_)
        if where:
            eligible &= self.metadata.mask(where, len(self.ids))
        if positive:
            eligible &= scores > 0
        rows = np.flatnonzero(eligible)
        # Ranked as shown, to six places: scores equal in theory can differ in the last bits,
        # and equal-looking hits then still come in insertion order.
        chosen = np.round(scores[rows], 6)
        if rows.size > k:
            # The k-th best score; rows above it all make it, and ties at it go in row order.
            cut = np.partition(chosen, rows.size - k)[rows.size - k]
            above = np.flatnonzero(chosen > cut)
            tied = np.flatnonzero(chosen == cut)[: k - above.size]
            keep = np.concatenate([above, tied])
            rows, chosen = rows[keep], chosen[keep]
        order = np.lexsort((rows, -chosen))
        return [(str(self.ids[rows[i]]), float(chosen[i])) for i in order]


class VectorStore:
    """Documents in named collections; adding an existing id to a collection replaces it."""

    def __init__(
        self,
        database: Database | None = None,
        *,
        max_documents: int = 100_000,
        embeddings: EmbeddingSpace | None = None,
    ) -> None:
        """Open the store on `database` (a fresh in-memory one if None) and index its documents.

        With `embeddings`, documents also get dense vectors; those the database lacks (new to
        the dense mode, or made by another model) are listed in `pending` for the caller to
        compute and hand to `set_vectors`.

        Raises:
            StoreError: The database cannot be read.
        """
        self.max_documents = max_documents
        self.embeddings = embeddings
        self._db = Database() if database is None else database
        self._db.create(DEFAULT_COLLECTION)
        if embeddings is not None:
            self._db.change_embedding_model(embeddings.identity)
        self._collections = {name: self._new_collection() for name in self._db.collections()}
        self.pending: list[PendingEmbedding] = []
        self._count = 0
        batches: dict[str, list[tuple[str, Counter[str], Mapping[str, Scalar], _Vector]]] = {}
        for doc in self._db.documents():
            vector = self._zero_vector()
            if embeddings is not None:
                if doc.embedding is None:
                    self.pending.append(PendingEmbedding(doc.collection, doc.id, doc.text))
                else:
                    vector = np.frombuffer(doc.embedding, dtype=np.float32)
            batch = batches.setdefault(doc.collection, [])
            batch.append((doc.id, word_counts(doc.text), doc.metadata, vector))
            if len(batch) == _LOAD_BATCH:
                self._collections[doc.collection].load(batch)
                batches[doc.collection] = []
            self._count += 1
        for name, batch in batches.items():
            self._collections[name].load(batch)

    def __len__(self) -> int:
        """The number of documents in all collections."""
        return self._count

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def add(
        self,
        text: str,
        *,
        id: str | None = None,
        metadata: Mapping[str, Scalar] | None = None,
        collection: str = DEFAULT_COLLECTION,
        vector: _Vector | None = None,
    ) -> tuple[str, bool]:
        """Store `text` under `id` (a fresh one if None); return the id and whether it replaced.

        In the dense mode, `vector` is the text's embedding and is required.

        Raises:
            StoreError: The text has no words, the collection name is invalid, or the store
                is full.
        """
        _check_name(collection)
        counts = word_counts(text)
        if not counts:
            raise StoreError("text contains no words to index")
        if (vector is None) != (self.embeddings is None):
            raise ValueError("a vector is required in the dense mode, and only there")
        doc_id = uuid.uuid4().hex if id is None else id
        target = self._collections.get(collection)
        replaced = target is not None and doc_id in target.rows
        if not replaced and self._count >= self.max_documents:
            raise StoreError(f"the store is full ({self.max_documents} documents)")
        data = dict(metadata or {})
        blob = None if vector is None else vector.astype(np.float32).tobytes()
        self._db.put(collection, doc_id, text, _snippet(text), data, blob)
        if target is None:
            target = self._collections[collection] = self._new_collection()
        target.put(doc_id, counts, data, self._zero_vector() if vector is None else vector)
        self._count += 0 if replaced else 1
        return doc_id, replaced

    def delete(self, id: str, *, collection: str = DEFAULT_COLLECTION) -> None:
        """Delete one document.

        Raises:
            StoreError: There is no such collection or no such document in it.
        """
        target = self._collection(collection)
        if id not in target.rows:
            raise StoreError(f"no document with id {id!r} in collection {collection!r}")
        self._db.delete(collection, id)
        target.remove(id)
        self._count -= 1

    def drop(self, collection: str) -> int:
        """Delete a collection and its documents; return how many documents went with it.

        The default collection is emptied but stays.

        Raises:
            StoreError: There is no such collection.
        """
        count = len(self._collection(collection))
        self._db.drop(collection)
        del self._collections[collection]
        if collection == DEFAULT_COLLECTION:
            self._db.create(DEFAULT_COLLECTION)
            self._collections[collection] = self._new_collection()
        self._count -= count
        return count

    def collections(self) -> dict[str, int]:
        """Each collection's name and number of documents, sorted by name."""
        return {name: len(self._collections[name]) for name in sorted(self._collections)}

    def count(self, collection: str) -> int:
        """The number of documents in `collection` (0 if it does not exist)."""
        target = self._collections.get(collection)
        return 0 if target is None else len(target)

    def search(
        self,
        query: str,
        k: int,
        *,
        where: Where | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> list[Hit]:
        """The `k` documents whose word counts are most similar to `query`'s, best first.

        Documents sharing no word with the query are left out; ties keep insertion order.

        Raises:
            StoreError: The query has no words, `k` is below 1, or there is no such collection.
        """
        _check_k(k)
        counts = word_counts(query)
        if not counts:
            raise StoreError("query contains no words to search for")
        target = self._collection(collection)
        ranked = target.rank(target.sparse.scores(counts), k, where, positive=True)
        return self._hits(collection, ranked)

    def semantic_search(
        self,
        vector: _Vector,
        k: int,
        *,
        where: Where | None = None,
        collection: str = DEFAULT_COLLECTION,
    ) -> list[Hit]:
        """The `k` documents whose embeddings are closest to `vector`, best first.

        Raises:
            StoreError: `k` is below 1, or there is no such collection.
        """
        _check_k(k)
        target = self._collection(collection)
        if target.dense is None:
            raise ValueError("the store was opened without embeddings")
        ranked = target.rank(target.dense.scores(vector), k, where, positive=False)
        return self._hits(collection, ranked)

    def set_vectors(self, vectors: list[tuple[PendingEmbedding, _Vector]]) -> None:
        """Store the vectors computed for pending documents (ones since deleted are skipped)."""
        updates: list[tuple[str, str, bytes]] = []
        for pending, vector in vectors:
            target = self._collections.get(pending.collection)
            row = None if target is None else target.rows.get(pending.id)
            if target is not None and target.dense is not None and row is not None:
                target.dense.set(row, vector)
                updates.append((pending.collection, pending.id, vector.tobytes()))
        self._db.set_embeddings(updates)

    def _collection(self, name: str) -> _Collection:
        target = self._collections.get(name)
        if target is None:
            known = ", ".join(sorted(self._collections))
            raise StoreError(f"no collection named {name!r}; the collections are: {known}")
        return target

    def _new_collection(self) -> _Collection:
        return _Collection(None if self.embeddings is None else self.embeddings.dimension)

    def _zero_vector(self) -> _Vector:
        dimension = 0 if self.embeddings is None else self.embeddings.dimension
        return np.zeros(dimension, dtype=np.float32)

    def _hits(self, collection: str, ranked: list[tuple[str, float]]) -> list[Hit]:
        if not ranked:
            return []
        found = self._db.summaries(collection, [doc_id for doc_id, _ in ranked])
        return [
            Hit(
                id=doc_id,
                score=score,
                snippet=found[doc_id][0],
                metadata=found[doc_id][1],
            )
            for doc_id, score in ranked
        ]


def _check_name(collection: str) -> None:
    if not _COLLECTION_NAME.fullmatch(collection):
        raise StoreError(
            f"invalid collection name {collection!r}: use 1-64 letters, digits, '_', '.', '-'"
        )


def _check_k(k: int) -> None:
    if k < 1:
        raise StoreError(f"k must be at least 1, got {k}")


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= SNIPPET_CHARS:
        return flat
    return flat[: SNIPPET_CHARS - 1].rstrip() + "…"
