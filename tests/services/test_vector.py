"""Contract tests of the vector service, in memory through the SDK client.

`run_contract` is one scripted session (every tool, happy paths and error paths) that takes a
caller and a tool-name prefix, so the same script also runs against a real `python -m`
process and through the gateway in `test_vector_e2e.py`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
import pytest
from inline_snapshot import snapshot
from mcp import Client
from mcp.types import CallToolResult, TextContent, Tool

from micro_mcp.services.vector.config import parse_config
from micro_mcp.services.vector.server import build_server
from micro_mcp.services.vector.store import VectorStore

pytestmark = pytest.mark.anyio

TOOLS = {"addDocument", "search", "deleteDocument", "listCollections", "deleteCollection"}

Call = Callable[[str, dict[str, Any]], Awaitable[CallToolResult]]


def text_of(result: CallToolResult) -> str:
    """The concatenated text content of a tool result."""
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def ok(result: CallToolResult, tool: Tool) -> dict[str, Any]:
    """The structured content of a successful result, checked against the tool's outputSchema."""
    assert not result.is_error, text_of(result)
    assert result.structured_content is not None
    assert tool.output_schema is not None
    jsonschema.validate(result.structured_content, tool.output_schema)
    return result.structured_content


def error(result: CallToolResult) -> str:
    """The message of a tool error result."""
    assert result.is_error, result.structured_content
    return text_of(result)


async def run_contract(call: Call, tools: dict[str, Tool], prefix: str = "") -> None:
    """Drive every tool of a fresh vector server through `call`; `tools` maps names to schemas."""

    async def good(name: str, args: dict[str, Any]) -> dict[str, Any]:
        return ok(await call(prefix + name, args), tools[prefix + name])

    async def bad(name: str, args: dict[str, Any]) -> str:
        return error(await call(prefix + name, args))

    cats = "Cats are small furry animals. Cats purr."
    assert await good("addDocument", {"id": "cats", "text": cats, "metadata": {"lang": "en"}}) == {
        "id": "cats",
        "collection": "default",
        "replaced": False,
        "count": 1,
    }
    dogs = {"id": "dogs", "text": "Dogs are loyal animals and dogs bark.", "metadata": {"n": 2}}
    assert (await good("addDocument", dogs))["count"] == 2
    german = await good(
        "addDocument",
        {"text": "Katzen sind kleine Tiere", "collection": "de", "metadata": {"lang": "de"}},
    )
    assert re.fullmatch(r"[0-9a-f]{32}", german["id"]) and german["count"] == 1

    found = await good("search", {"query": "cats animals"})
    assert [hit["id"] for hit in found["hits"]] == ["cats", "dogs"]
    assert found["hits"][0] == {
        "id": "cats",
        "score": found["hits"][0]["score"],
        "snippet": cats,
        "metadata": {"lang": "en"},
    }
    assert 1 > found["hits"][0]["score"] > found["hits"][1]["score"] > 0
    filtered = await good("search", {"query": "animals", "where": {"lang": ["en", "fr"]}})
    assert [hit["id"] for hit in filtered["hits"]] == ["cats"]
    assert (await good("search", {"query": "submarine"})) == {"collection": "default", "hits": []}
    in_de = await good("search", {"query": "katzen", "collection": "de", "k": 1})
    assert [hit["id"] for hit in in_de["hits"]] == [german["id"]]

    listed = await good("listCollections", {})
    assert listed == {"collections": [{"name": "de", "count": 1}, {"name": "default", "count": 2}]}

    assert await good("deleteDocument", {"id": "dogs"}) == {
        "id": "dogs",
        "collection": "default",
        "count": 1,
    }
    assert "no document with id 'dogs' in collection 'default'" in await bad(
        "deleteDocument", {"id": "dogs"}
    )
    assert "no collection named 'nope'" in await bad("search", {"query": "x", "collection": "nope"})
    assert "query contains no words" in await bad("search", {"query": "?!"})
    assert "text contains no words" in await bad("addDocument", {"text": "..."})
    assert "k" in await bad("search", {"query": "cats", "k": 0})
    assert "k" in await bad("search", {"query": "cats", "k": 101})
    assert "collection" in await bad("addDocument", {"text": "x", "collection": "bad name"})
    assert "metadata" in await bad("addDocument", {"text": "x", "metadata": {"nested": {"a": 1}}})
    assert "where" in await bad("search", {"query": "x", "where": {"k": [[1]]}})
    assert "query" in await bad("search", {})

    assert await good("deleteCollection", {"collection": "de"}) == {
        "collection": "de",
        "deleted": 1,
    }
    assert "no collection named 'de'" in await bad("deleteCollection", {"collection": "de"})
    assert await good("listCollections", {}) == {"collections": [{"name": "default", "count": 1}]}


async def test_every_tool_through_the_sdk_client_in_memory() -> None:
    async with Client(build_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        await run_contract(client.call_tool, tools)

    assert set(tools) == TOOLS


async def test_tool_schemas_are_exact() -> None:
    async with Client(build_server()) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}

    value = {
        "anyOf": [
            {"maxLength": 1000, "type": "string"},
            {"type": "integer"},
            {"type": "number"},
            {"type": "boolean"},
            {"type": "null"},
        ]
    }
    collection = tools["search"].input_schema["properties"]["collection"]
    assert collection == snapshot(
        {
            "default": "default",
            "description": "Collection name; 'default' if omitted.",
            "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
            "title": "Collection",
            "type": "string",
        }
    )
    add = tools["addDocument"].input_schema
    assert add["required"] == ["text"]
    assert add["properties"]["text"]["maxLength"] == 100_000
    assert add["properties"]["id"]["anyOf"][0] == {
        "maxLength": 256,
        "minLength": 1,
        "type": "string",
    }
    metadata = add["properties"]["metadata"]["anyOf"][0]
    assert metadata["maxProperties"] == 32
    assert metadata["additionalProperties"] == value
    search = tools["search"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"] == snapshot(
        {
            "default": 5,
            "description": "Most hits to return.",
            "maximum": 100,
            "minimum": 1,
            "title": "K",
            "type": "integer",
        }
    )
    where = search["properties"]["where"]
    assert where == snapshot(
        {
            "anyOf": [
                {
                    "additionalProperties": {
                        "anyOf": [
                            {"maxLength": 1000, "type": "string"},
                            {"type": "integer"},
                            {"type": "number"},
                            {"type": "boolean"},
                            {
                                "items": {
                                    "anyOf": [
                                        {"maxLength": 1000, "type": "string"},
                                        {"type": "integer"},
                                        {"type": "number"},
                                        {"type": "boolean"},
                                        {"type": "null"},
                                    ]
                                },
                                "maxItems": 100,
                                "minItems": 1,
                                "type": "array",
                            },
                            {"type": "null"},
                        ]
                    },
                    "description": "Only documents whose metadata has, for every key, this value "
                    "(or one of this list). Documents without the key never match.",
                    "maxProperties": 32,
                    "propertyNames": {"maxLength": 64, "minLength": 1},
                    "type": "object",
                },
                {"type": "null"},
            ],
            "default": None,
            "title": "Where",
        }
    )
    assert tools["deleteDocument"].input_schema["required"] == ["id"]
    assert tools["deleteCollection"].input_schema["required"] == ["collection"]
    assert tools["listCollections"].input_schema["properties"] == {}
    outputs = {
        name: (sorted(tool.output_schema["properties"]), sorted(tool.output_schema["required"]))
        for name, tool in tools.items()
        if tool.output_schema is not None
    }
    assert outputs == snapshot(
        {
            "addDocument": (
                ["collection", "count", "id", "replaced"],
                ["collection", "count", "id", "replaced"],
            ),
            "search": (["collection", "hits"], ["collection", "hits"]),
            "deleteDocument": (["collection", "count", "id"], ["collection", "count", "id"]),
            "listCollections": (["collections"], ["collections"]),
            "deleteCollection": (["collection", "deleted"], ["collection", "deleted"]),
        }
    )
    assert tools["search"].annotations is not None and tools["search"].annotations.read_only_hint
    assert tools["deleteDocument"].annotations is not None
    assert tools["deleteDocument"].annotations.destructive_hint


async def test_generated_ids_metadata_and_replacement() -> None:
    async with Client(build_server()) as client:
        first = await client.call_tool("addDocument", {"text": "alpha", "metadata": {"n": 1}})
        assert first.structured_content is not None
        doc_id = first.structured_content["id"]
        again = await client.call_tool(
            "addDocument", {"id": doc_id, "text": "alpha beta", "metadata": {"n": 2}}
        )
        found = await client.call_tool("search", {"query": "beta"})

    assert again.structured_content == {
        "id": doc_id,
        "collection": "default",
        "replaced": True,
        "count": 1,
    }
    assert found.structured_content is not None
    [hit] = found.structured_content["hits"]
    assert (hit["metadata"], hit["snippet"]) == ({"n": 2}, "alpha beta")


async def test_k_limits_the_hits_and_ties_keep_insertion_order() -> None:
    async with Client(build_server()) as client:
        for index in range(8):
            await client.call_tool("addDocument", {"id": f"d{index}", "text": "same words"})
        default = await client.call_tool("search", {"query": "same"})
        two = await client.call_tool("search", {"query": "same", "k": 2})

    assert default.structured_content is not None and two.structured_content is not None
    assert [hit["id"] for hit in default.structured_content["hits"]] == [f"d{i}" for i in range(5)]
    assert [hit["id"] for hit in two.structured_content["hits"]] == ["d0", "d1"]


async def test_full_store_refuses_new_ids_but_accepts_replacements() -> None:
    async with Client(build_server(VectorStore(max_documents=1))) as client:
        await client.call_tool("addDocument", {"id": "a", "text": "one"})
        refused = await client.call_tool("addDocument", {"id": "b", "text": "two"})
        replaced = await client.call_tool("addDocument", {"id": "a", "text": "three"})

    assert "store is full (1 documents)" in error(refused)
    assert not replaced.is_error


def test_flags_and_environment() -> None:
    config = parse_config(["--http", "--port", "9003", "--max-documents", "7"])
    from_env = parse_config([], {"VECTOR_DB": "/tmp/v.db"})
    model = parse_config(["--model", "/models/m", "--db", "/x.db"], {"VECTOR_DB": "/tmp/v.db"})

    assert (config.http, config.host, config.port, config.max_documents) == (
        True,
        "127.0.0.1",
        9003,
        7,
    )
    assert (config.database, config.embeddings) == (None, False)
    assert str(from_env.database) == "/tmp/v.db"
    assert (str(model.database), model.embeddings, str(model.model)) == ("/x.db", True, "/models/m")
