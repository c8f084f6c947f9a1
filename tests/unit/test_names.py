"""Namespacing of names and URIs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micro_mcp.protocol import names
from micro_mcp.protocol.names import Namer


def test_prefixed_name_joins_namespace_and_name_with_the_separator():
    assert Namer("fs").name("listDir") == "fs.listDir"
    assert Namer("fs", separator="__").name("listDir") == "fs__listDir"


def test_prefixed_uri_joins_namespace_and_uri_with_plus():
    assert Namer("fs").uri("file:///a.txt") == "fs+file:///a.txt"
    assert Namer("fs", separator="_").uri("file:///a.txt") == "fs+file:///a.txt"


def test_unprefixed_namer_keeps_names_and_uris():
    namer = Namer("fs", prefixed=False)
    assert namer.name("listDir") == "listDir"
    assert namer.uri("file:///a.txt") == "file:///a.txt"


def test_subject_always_uses_a_dot():
    assert names.subject("fs", "read") == "fs.read"


def test_split_uri_returns_namespace_and_service_uri():
    assert names.split_uri("fs+file:///a+b.txt") == ("fs", "file:///a+b.txt")


@pytest.mark.parametrize(
    "uri", ["file:///a.txt", "fs+", "+file:///a", "Fs+file:///a", "1fs+file:///a", "f_s+x:y"]
)
def test_split_uri_refuses_uris_without_a_valid_namespace(uri):
    assert names.split_uri(uri) is None


_namespace = st.from_regex(r"[a-z][a-z0-9-]{0,31}", fullmatch=True)
_uri = st.builds(lambda scheme, rest: f"{scheme}:{rest}", st.text(), st.text())


@settings(database=None)
@given(namespace=_namespace, uri=_uri)
def test_split_uri_inverts_namer_uri(namespace, uri):
    assert names.split_uri(Namer(namespace).uri(uri)) == (namespace, uri)


@pytest.mark.parametrize("value", ["a", "fs", "my-service", "v2", "a" * 32, "a-"])
def test_valid_namespaces(value):
    assert names.is_namespace(value)


@pytest.mark.parametrize(
    "value", ["", "A", "Fs", "2fs", "-fs", "f_s", "f.s", "f+s", "f s", "a" * 33, "é"]
)
def test_invalid_namespaces(value):
    assert not names.is_namespace(value)


def test_namespace_with_trailing_newline_is_invalid():
    assert not names.is_namespace("fs\n")


def test_rewrite_content_renames_resource_links_and_embedded_resources_only():
    content = [
        {"type": "text", "text": "file:///a.txt", "uri": "file:///not-a-link"},
        {"type": "image", "data": "AA==", "mimeType": "image/png"},
        {"type": "resource_link", "uri": "file:///a.txt", "name": "a"},
        {"type": "resource", "resource": {"uri": "file:///b.txt", "text": "b"}},
        "not a block",
    ]
    Namer("fs").rewrite_content(content)
    assert content == [
        {"type": "text", "text": "file:///a.txt", "uri": "file:///not-a-link"},
        {"type": "image", "data": "AA==", "mimeType": "image/png"},
        {"type": "resource_link", "uri": "fs+file:///a.txt", "name": "a"},
        {"type": "resource", "resource": {"uri": "fs+file:///b.txt", "text": "b"}},
        "not a block",
    ]


def test_rewrite_content_skips_blocks_whose_uri_is_not_a_string():
    content = [{"type": "resource_link", "uri": 3}, {"type": "resource", "resource": "x"}]
    Namer("fs").rewrite_content(content)
    assert content == [{"type": "resource_link", "uri": 3}, {"type": "resource", "resource": "x"}]


def test_rewrite_content_of_unprefixed_namer_changes_nothing():
    content = [{"type": "resource_link", "uri": "file:///a.txt"}]
    Namer("fs", prefixed=False).rewrite_content(content)
    assert content == [{"type": "resource_link", "uri": "file:///a.txt"}]


@pytest.mark.parametrize("content", [None, {"type": "resource_link", "uri": "x:y"}, "x"])
def test_rewrite_content_ignores_content_that_is_not_a_list(content):
    before = repr(content)
    Namer("fs").rewrite_content(content)
    assert repr(content) == before
