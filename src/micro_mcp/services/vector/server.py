"""The `vector` MCP server: add documents, then search them by similarity.

Tools: `addDocument(text, id?, metadata?)` and `search(query, k=5)`. The store lives in this
process's memory and is lost when the server stops.
"""

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from micro_mcp.services.vector.store import Scalar, StoreError, VectorStore

DEFAULT_MAX_DOCUMENTS = 10_000
"""Most documents the store holds unless configured otherwise."""

MAX_K = 100
"""Most hits one search may ask for."""

MAX_TEXT_CHARS = 100_000
"""Longest document text accepted, in characters."""

_INSTRUCTIONS = """\
An in-memory document index. Add texts with addDocument, then find the most similar ones
with search (cosine similarity over word counts, so shared words matter, not meaning)."""


class AddedDocument(BaseModel):
    """The result of addDocument."""

    id: str = Field(description="The document's id, generated if none was given.")
    replaced: bool = Field(description="True if a document with this id was replaced.")
    count: int = Field(description="Number of documents now in the store.")


class SearchHit(BaseModel):
    """One document found by search."""

    id: str
    score: float = Field(description="Cosine similarity to the query, in (0, 1].")
    snippet: str = Field(description="The start of the document's text.")
    metadata: dict[str, Scalar]


class SearchResults(BaseModel):
    """The result of search: hits sorted by descending score."""

    hits: list[SearchHit]


def build_server(*, max_documents: int = DEFAULT_MAX_DOCUMENTS) -> MCPServer:
    """Build the vector server with an empty store of at most `max_documents` documents."""
    store = VectorStore(max_documents=max_documents)
    mcp = MCPServer("vector", instructions=_INSTRUCTIONS)

    # Async tools on purpose: they run on the event loop one at a time, so the store needs
    # no lock, and they never block (pure computation over a small corpus).
    @mcp.tool(
        name="addDocument",
        annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=True),
    )
    async def add_document(
        text: Annotated[str, Field(max_length=MAX_TEXT_CHARS, description="Text to index.")],
        id: Annotated[
            str | None,
            Field(min_length=1, max_length=256, description="Id; an existing id is replaced."),
        ] = None,
        metadata: Annotated[
            dict[str, Scalar] | None,
            Field(description="Flat JSON object returned with hits."),
        ] = None,
    ) -> AddedDocument:
        """Add a document to the index, or replace the one with the same id."""
        try:
            doc_id, replaced = store.add(text, id=id, metadata=metadata)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return AddedDocument(id=doc_id, replaced=replaced, count=len(store))

    @mcp.tool(name="search", annotations=ToolAnnotations(read_only_hint=True))
    async def search(
        query: Annotated[str, Field(description="Words to look for.")],
        k: Annotated[int, Field(ge=1, le=MAX_K, description="Most hits to return.")] = 5,
    ) -> SearchResults:
        """Find the k documents most similar to the query; ones sharing no word are left out."""
        try:
            hits = store.search(query, k)
        except StoreError as exc:
            raise ToolError(str(exc)) from exc
        return SearchResults(
            hits=[
                SearchHit(id=h.id, score=h.score, snippet=h.snippet, metadata=dict(h.metadata))
                for h in hits
            ]
        )

    return mcp
