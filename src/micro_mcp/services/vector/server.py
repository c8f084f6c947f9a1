"""The `vector` MCP server: add documents to named collections, then search them.

Tools: `addDocument`, `search` (cosine similarity of word counts), `deleteDocument`,
`listCollections`, `deleteCollection`, and in the dense mode `semanticSearch` (cosine
similarity of sentence embeddings). Every tool names its collection, `default` when left out.
"""

# No `from __future__ import annotations` here: the SDK evaluates the tools' annotations.
import logging
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from micro_mcp.services.vector.database import Database
from micro_mcp.services.vector.encoder import Encoder
from micro_mcp.services.vector.errors import StoreError
from micro_mcp.services.vector.store import (
    COLLECTION_PATTERN,
    DEFAULT_COLLECTION,
    EmbeddingSpace,
    Hit,
    VectorStore,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_DOCUMENTS = 100_000
"""Most documents the store holds, over all collections, unless configured otherwise."""

MAX_K = 100
"""Most hits one search may ask for."""

MAX_TEXT_CHARS = 100_000
"""Longest document text accepted, in characters."""

MAX_METADATA_KEYS = 32
"""Most keys in a document's metadata, or in one filter."""

MAX_STRING_CHARS = 1_000
"""Longest metadata string value, in characters."""

_BACKFILL_BATCH = 64
"""Documents embedded between two progress lines when a database is opened in dense mode."""

_INSTRUCTIONS = """\
A document index with named collections ('default' unless you name one). Add texts with
addDocument (optionally with flat metadata), then find the most similar ones with search:
cosine similarity over word counts, so shared words matter, not meaning. Filter hits by
metadata with `where`, e.g. {"lang": "en", "year": [2024, 2025]}."""

_SEMANTIC_INSTRUCTIONS = """
semanticSearch ranks by meaning instead (sentence embeddings), and finds texts that share
no word with the query."""

Key = Annotated[str, Field(min_length=1, max_length=64)]
Value = (
    Annotated[str, Field(max_length=MAX_STRING_CHARS)]
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
    | None
)
Metadata = Annotated[
    dict[Key, Value],
    Field(max_length=MAX_METADATA_KEYS, description="Flat JSON object returned with hits."),
]
Where = Annotated[
    dict[Key, Value | Annotated[list[Value], Field(min_length=1, max_length=100)]],
    Field(
        max_length=MAX_METADATA_KEYS,
        description="Only documents whose metadata has, for every key, this value (or one of "
        "this list). Documents without the key never match.",
    ),
]
Collection = Annotated[
    str, Field(pattern=COLLECTION_PATTERN, description="Collection name; 'default' if omitted.")
]
DocumentId = Annotated[str, Field(min_length=1, max_length=256)]
K = Annotated[int, Field(ge=1, le=MAX_K, description="Most hits to return.")]


class AddedDocument(BaseModel):
    """The result of addDocument."""

    id: str = Field(description="The document's id, generated if none was given.")
    collection: str
    replaced: bool = Field(description="True if a document with this id was replaced.")
    count: int = Field(description="Number of documents now in the collection.")


class DeletedDocument(BaseModel):
    """The result of deleteDocument."""

    id: str
    collection: str
    count: int = Field(description="Number of documents now in the collection.")


class SearchHit(BaseModel):
    """One document found by a search."""

    id: str
    score: float = Field(
        description="Cosine similarity to the query: in (0, 1] for search, [-1, 1] for "
        "semanticSearch."
    )
    snippet: str = Field(description="The start of the document's text.")
    metadata: dict[str, Value]


class SearchResults(BaseModel):
    """The result of a search: hits sorted by descending score."""

    collection: str
    hits: list[SearchHit]


class CollectionInfo(BaseModel):
    """One collection."""

    name: str
    count: int = Field(description="Number of documents in it.")


class CollectionList(BaseModel):
    """The result of listCollections."""

    collections: list[CollectionInfo] = Field(description="Sorted by name.")


class DroppedCollection(BaseModel):
    """The result of deleteCollection."""

    collection: str
    deleted: int = Field(description="Number of documents deleted with it.")


_READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)


def open_store(
    path: Path | None, *, max_documents: int, encoder: Encoder | None = None
) -> VectorStore:
    """Open the store on the SQLite file at `path` (memory if None), embedding what it lacks.

    Raises:
        StoreError: The database cannot be opened or read.
    """
    database = Database(path)
    space = None if encoder is None else EmbeddingSpace(encoder.identity, encoder.dimension)
    try:
        store = VectorStore(database, max_documents=max_documents, embeddings=space)
    except BaseException:
        database.close()
        raise
    if encoder is not None and store.pending:
        total = len(store.pending)
        logger.warning("embedding %d stored documents with %s", total, encoder.identity)
        for start in range(0, total, _BACKFILL_BATCH):
            batch = store.pending[start : start + _BACKFILL_BATCH]
            vectors = encoder.encode([pending.text for pending in batch])
            store.set_vectors(list(zip(batch, vectors, strict=True)))
            logger.warning("embedded %d of %d", min(start + _BACKFILL_BATCH, total), total)
        store.pending.clear()
    return store


def build_server(store: VectorStore | None = None, *, encoder: Encoder | None = None) -> MCPServer:
    """Build the vector server over `store` (an empty in-memory one if None).

    With `encoder`, the server runs in the dense mode: documents are embedded as they are
    added and `semanticSearch` is offered. The store must then have been opened with it.
    """
    if store is None:
        space = None if encoder is None else EmbeddingSpace(encoder.identity, encoder.dimension)
        store = VectorStore(max_documents=DEFAULT_MAX_DOCUMENTS, embeddings=space)
    if (encoder is None) != (store.embeddings is None) or (
        encoder is not None
        and store.embeddings is not None
        and store.embeddings.identity != encoder.identity
    ):
        raise ValueError("the store and the server must use the same embedding model")
    instructions = _INSTRUCTIONS + ("" if encoder is None else _SEMANTIC_INSTRUCTIONS)
    mcp = MCPServer("vector", instructions=instructions)

    # Async tools on purpose: they run on the event loop one at a time, so the store and its
    # SQLite connection need no lock. Searches are numpy work of a few milliseconds; only
    # embedding, which takes longer, goes to a worker thread.
    @mcp.tool(
        name="addDocument",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=False),
    )
    async def add_document(
        text: Annotated[str, Field(max_length=MAX_TEXT_CHARS, description="Text to index.")],
        id: Annotated[
            DocumentId | None,
            Field(description="Id; an existing id in the collection is replaced."),
        ] = None,
        metadata: Metadata | None = None,
        collection: Collection = DEFAULT_COLLECTION,
    ) -> AddedDocument:
        """Add a document to a collection (created if new), or replace the one with its id."""
        vector = None
        if encoder is not None and text.strip():
            [vector] = await anyio.to_thread.run_sync(encoder.encode, [text])
        try:
            doc_id, replaced = store.add(
                text, id=id, metadata=metadata, collection=collection, vector=vector
            )
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return AddedDocument(
            id=doc_id, collection=collection, replaced=replaced, count=store.count(collection)
        )

    @mcp.tool(name="search", annotations=_READ_ONLY)
    async def search(
        query: Annotated[str, Field(max_length=MAX_TEXT_CHARS, description="Words to look for.")],
        k: K = 5,
        where: Where | None = None,
        collection: Collection = DEFAULT_COLLECTION,
    ) -> SearchResults:
        """Find the k documents sharing the most words with the query (cosine of word counts).

        Documents sharing no word are left out.
        """
        try:
            hits = store.search(query, k, where=where, collection=collection)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return _results(collection, hits)

    @mcp.tool(
        name="deleteDocument",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def delete_document(
        id: DocumentId, collection: Collection = DEFAULT_COLLECTION
    ) -> DeletedDocument:
        """Delete the document with this id from the collection."""
        try:
            store.delete(id, collection=collection)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return DeletedDocument(id=id, collection=collection, count=store.count(collection))

    @mcp.tool(name="listCollections", annotations=_READ_ONLY)
    async def list_collections() -> CollectionList:
        """List the collections and how many documents each holds."""
        return CollectionList(
            collections=[
                CollectionInfo(name=name, count=count)
                for name, count in store.collections().items()
            ]
        )

    @mcp.tool(
        name="deleteCollection",
        annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True),
    )
    async def delete_collection(
        collection: Annotated[str, Field(pattern=COLLECTION_PATTERN)],
    ) -> DroppedCollection:
        """Delete a collection and all its documents ('default' is emptied, not removed)."""
        try:
            deleted = store.drop(collection)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return DroppedCollection(collection=collection, deleted=deleted)

    if encoder is not None:
        model = encoder

        @mcp.tool(name="semanticSearch", annotations=_READ_ONLY)
        async def semantic_search(
            query: Annotated[
                str, Field(min_length=1, max_length=MAX_TEXT_CHARS, description="What to find.")
            ],
            k: K = 5,
            where: Where | None = None,
            collection: Collection = DEFAULT_COLLECTION,
        ) -> SearchResults:
            """Find the k documents closest in meaning to the query (sentence embeddings)."""
            if not query.strip():
                raise ToolError("query is blank")
            [vector] = await anyio.to_thread.run_sync(model.encode, [query])
            try:
                hits = store.semantic_search(vector, k, where=where, collection=collection)
            except StoreError as exc:
                raise ToolError(str(exc)) from exc
            return _results(collection, hits)

    return mcp


def _results(collection: str, hits: list[Hit]) -> SearchResults:
    return SearchResults(
        collection=collection,
        hits=[
            SearchHit(id=h.id, score=h.score, snippet=h.snippet, metadata=dict(h.metadata))
            for h in hits
        ],
    )
