"""Contract tests of the vector service, in memory through the SDK client."""

from __future__ import annotations

import math
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from micro_mcp.services.vector.config import parse_config
from micro_mcp.services.vector.server import build_server
from micro_mcp.services.vector.store import SNIPPET_CHARS, StoreError, VectorStore, tokenize

pytestmark = pytest.mark.anyio

DOCS = {
    "cats": "Cats are small furry animals. Cats purr.",
    "dogs": "Dogs are loyal animals and dogs bark.",
    "python": "Python is a programming language.",
}


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def structured(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful result."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    return result.structured_content


async def test_list_tools_declares_names_and_schemas() -> None:
    async with Client(build_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    assert set(tools) == {"addDocument", "search"}
    add, search = tools["addDocument"], tools["search"]
    assert set(add.input_schema["properties"]) == {"id", "text", "metadata"}
    assert add.input_schema["required"] == ["text"]
    assert set(search.input_schema["properties"]) == {"query", "k"}
    assert search.input_schema["required"] == ["query"]
    assert search.input_schema["properties"]["k"]["default"] == 5
    assert add.output_schema is not None
    assert set(add.output_schema["properties"]) == {"id", "replaced", "count"}
    assert search.output_schema is not None
    assert set(search.output_schema["properties"]) == {"hits"}


async def test_added_documents_are_ranked_by_similarity() -> None:
    async with Client(build_server()) as client:
        for doc_id, text in DOCS.items():
            added = structured(await client.call_tool("addDocument", {"id": doc_id, "text": text}))
            assert added["id"] == doc_id
        found = structured(await client.call_tool("search", {"query": "cats animals"}))

    hits = found["hits"]
    assert [hit["id"] for hit in hits] == ["cats", "dogs"]
    assert hits[0]["score"] > hits[1]["score"] > 0
    assert hits[0]["snippet"] == DOCS["cats"]
    assert hits[0]["metadata"] == {}


async def test_score_is_the_cosine_of_word_count_vectors() -> None:
    async with Client(build_server()) as client:
        await client.call_tool("addDocument", {"id": "a", "text": "red red blue"})
        same = structured(await client.call_tool("search", {"query": "RED, red; BLUE!"}))
        partial = structured(await client.call_tool("search", {"query": "blue green"}))

    assert same["hits"][0]["score"] == 1.0
    # (2,1,0)·(0,1,1) / (√5 · √2)
    assert partial["hits"][0]["score"] == pytest.approx(1 / math.sqrt(10), abs=1e-6)


async def test_generated_ids_metadata_and_replacement() -> None:
    async with Client(build_server()) as client:
        first = structured(
            await client.call_tool("addDocument", {"text": "alpha", "metadata": {"n": 1}})
        )
        again = structured(
            await client.call_tool(
                "addDocument", {"id": first["id"], "text": "alpha beta", "metadata": {"n": 2}}
            )
        )
        found = structured(await client.call_tool("search", {"query": "beta"}))

    assert first["id"] and first["replaced"] is False and first["count"] == 1
    assert again == {"id": first["id"], "replaced": True, "count": 1}
    [hit] = found["hits"]
    assert hit["metadata"] == {"n": 2}
    assert hit["snippet"] == "alpha beta"


async def test_search_of_empty_store_finds_nothing() -> None:
    async with Client(build_server()) as client:
        found = structured(await client.call_tool("search", {"query": "anything"}))

    assert found == {"hits": []}


async def test_documents_sharing_no_word_are_left_out() -> None:
    async with Client(build_server()) as client:
        for doc_id, text in DOCS.items():
            await client.call_tool("addDocument", {"id": doc_id, "text": text})
        found = structured(await client.call_tool("search", {"query": "submarine"}))

    assert found == {"hits": []}


async def test_k_limits_the_hits_and_ties_keep_insertion_order() -> None:
    async with Client(build_server()) as client:
        for index in range(8):
            await client.call_tool("addDocument", {"id": f"d{index}", "text": "same words"})
        default = structured(await client.call_tool("search", {"query": "same"}))
        two = structured(await client.call_tool("search", {"query": "same", "k": 2}))
        many = structured(await client.call_tool("search", {"query": "same", "k": 100}))

    assert [hit["id"] for hit in default["hits"]] == [f"d{i}" for i in range(5)]
    assert [hit["id"] for hit in two["hits"]] == ["d0", "d1"]
    assert len(many["hits"]) == 8


@pytest.mark.parametrize("k", [0, -1, 101])
async def test_k_out_of_bounds_is_rejected(k: int) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("search", {"query": "x", "k": k})

    assert result.is_error


@pytest.mark.parametrize("query", ["", "   ", "?!—"])
async def test_query_without_words_is_an_error(query: str) -> None:
    async with Client(build_server()) as client:
        await client.call_tool("addDocument", {"text": "something"})
        result = await client.call_tool("search", {"query": query})

    assert result.is_error
    assert "query contains no words" in text_of(result)


@pytest.mark.parametrize("args", [{"text": ""}, {"text": "..."}, {"text": "ok", "id": ""}])
async def test_bad_documents_are_rejected(args: dict[str, Any]) -> None:
    async with Client(build_server()) as client:
        result = await client.call_tool("addDocument", args)
        found = structured(await client.call_tool("search", {"query": "ok"}))

    assert result.is_error
    assert found == {"hits": []}


async def test_full_store_refuses_new_ids_but_accepts_replacements() -> None:
    async with Client(build_server(max_documents=1)) as client:
        await client.call_tool("addDocument", {"id": "a", "text": "one"})
        refused = await client.call_tool("addDocument", {"id": "b", "text": "two"})
        replaced = await client.call_tool("addDocument", {"id": "a", "text": "three"})

    assert refused.is_error
    assert "store is full" in text_of(refused)
    assert not replaced.is_error


def test_tokens_are_lowercased_unicode_words() -> None:
    assert tokenize("Hello, WORLD! Café_2 naïve") == ["hello", "world", "café_2", "naïve"]


def test_long_texts_get_a_cut_snippet() -> None:
    store = VectorStore()
    store.add("word " * 200, id="long")

    [hit] = store.search("word", k=1)

    assert len(hit.snippet) == SNIPPET_CHARS
    assert hit.snippet.endswith("…")


def test_store_rejects_k_below_one() -> None:
    with pytest.raises(StoreError, match="k must be at least 1"):
        VectorStore().search("x", k=0)


def test_transport_flags() -> None:
    config = parse_config(["--http", "--port", "9003"])

    assert (config.http, config.host, config.port) == (True, "127.0.0.1", 9003)
