"""Ranking on a small fixed corpus: names, descriptions and argument names, best first."""

from __future__ import annotations

from typing import Any

from micro_mcp.registry.search import ToolIndex, document, words

TOOLS: list[dict[str, Any]] = [
    {
        "name": "fs.readFileText",
        "description": "Read a text file and return its contents.",
        "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
    },
    {
        "name": "fs.writeFile",
        "description": "Write content to a file, replacing it.",
        "inputSchema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        },
    },
    {
        "name": "web.search",
        "description": "Search the web and return result links.",
        "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}},
    },
    {
        "name": "github.create_issue",
        "description": "Open a new issue in a repository.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "repo": {"type": "string", "description": "owner/name of the repository"},
                "title": {"type": "string"},
            },
        },
    },
    {"name": "k8s.listPods", "description": "List the pods in a Kubernetes namespace."},
]


def test_words_split_case_changes_digits_and_punctuation_and_stem() -> None:
    assert words("readFileText") == ["read", "file", "text"]
    assert words("HTTPRequest v2") == ["http", "request", "v", "2"]
    assert words("create_issue in the repositories") == ["creat", "issu", "repositori"]
    assert words("the a of") == []


def test_name_words_weigh_more_than_description_words() -> None:
    bag = document(TOOLS[0])
    assert bag.count("read") == 3 + 1  # three times from the name, once from the description
    assert bag.count("path") == 1  # an argument name counts once


def test_query_finds_the_tool_by_name_description_and_argument_name() -> None:
    index = ToolIndex(TOOLS)
    assert index.search("read a file", 1)[0].name == "fs.readFileText"
    assert index.search("open an issue on github", 2)[0].name == "github.create_issue"
    assert index.search("pods of kubernetes", 5)[0].name == "k8s.listPods"
    # Only an argument description mentions "owner": still found.
    assert [hit.name for hit in index.search("owner", 5)] == ["github.create_issue"]


def test_results_are_best_first_limited_and_only_matching_tools() -> None:
    index = ToolIndex(TOOLS)
    hits = index.search("file", 10)
    assert {hit.name for hit in hits} == {"fs.readFileText", "fs.writeFile"}
    assert hits[0].score >= hits[1].score > 0
    assert len(index.search("file", 1)) == 1
    assert index.search("file", 0) == []
    assert index.search("zebra crossing", 5) == []
    assert index.search("", 5) == []


def test_a_tool_outside_the_mask_is_never_found() -> None:
    index = ToolIndex(TOOLS)
    allowed = index.mask(["fs.writeFile", "web.search", "not.indexed"])
    assert [hit.name for hit in index.search("read a file", 5, allowed)] == ["fs.writeFile"]
    assert index.search("kubernetes pods", 5, allowed) == []


def test_an_empty_index_finds_nothing() -> None:
    index = ToolIndex([])
    assert len(index) == 0
    assert index.search("anything", 5) == []
