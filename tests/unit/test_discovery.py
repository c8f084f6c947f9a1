"""The meta-tools over catalog snapshots: one index per snapshot, rebuilt when it changes, and
a caller's view as the only tools found or described."""

from __future__ import annotations

from typing import Any

import pytest

from micro_mcp.config.discovery import DiscoverySpec
from micro_mcp.gateway.core.discovery import Discovery
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

pytestmark = pytest.mark.anyio


def _catalog(generation: int, *tools: dict[str, Any]) -> Catalog:
    return Catalog.build(generation, {"fs": Namer("fs")}, {"fs": ServiceCatalog(tools=tools)})


def _found(discovery: Discovery, catalog: Catalog, query: str) -> list[str]:
    visible = catalog.items("tools")
    result = discovery.answer(discovery.search_name, {"query": query}, catalog, visible)
    return [tool["name"] for tool in result["structuredContent"]["tools"]]


async def test_a_new_snapshot_gets_a_new_index() -> None:
    discovery = Discovery(DiscoverySpec(enabled=True))
    before = _catalog(1, {"name": "readFile", "description": "Read a file."})
    after = _catalog(2, {"name": "deleteFile", "description": "Delete a file."})
    await discovery.prepare(before)
    assert _found(discovery, before, "file") == ["fs.readFile"]
    await discovery.prepare(after)
    assert _found(discovery, after, "file") == ["fs.deleteFile"]


def test_only_the_callers_view_is_searched_and_described() -> None:
    discovery = Discovery(DiscoverySpec(enabled=True))
    catalog = _catalog(
        1,
        {"name": "readFile", "description": "Read a file."},
        {"name": "secretFile", "description": "Read the secret file."},
    )
    view = [tool for tool in catalog.items("tools") if tool["name"] == "fs.readFile"]
    result = discovery.answer(discovery.search_name, {"query": "secret file"}, catalog, view)
    assert [tool["name"] for tool in result["structuredContent"]["tools"]] == ["fs.readFile"]
    hidden = discovery.answer(discovery.describe_name, {"name": "fs.secretFile"}, catalog, view)
    assert hidden["isError"] is True


def test_long_descriptions_are_cut_in_search_results() -> None:
    discovery = Discovery(DiscoverySpec(enabled=True))
    catalog = _catalog(1, {"name": "readFile", "description": "Read a file.\n\n" + "x " * 300})
    result = discovery.answer(
        discovery.search_name, {"query": "read"}, catalog, catalog.items("tools")
    )
    description = result["structuredContent"]["tools"][0]["description"]
    assert len(description) <= 200 and description.endswith("…")
    assert "\n" not in description
