"""Tool overrides: the catalog shows the tool as configured and routes the shown name back to
the service's own; fixed arguments leave the schema and come back in on the call."""

from __future__ import annotations

from typing import Any

import pytest
from inline_snapshot import snapshot

from micro_mcp import codes
from micro_mcp.config.profiles import ToolOverride
from micro_mcp.errors import McpError
from micro_mcp.policy.model import Policy
from micro_mcp.protocol.names import Namer
from micro_mcp.registry import overrides
from micro_mcp.registry.catalog import Catalog, Route, ServiceCatalog

READ: dict[str, Any] = {
    "name": "readFileText",
    "description": "Read a file.",
    "annotations": {"readOnlyHint": True, "title": "Read"},
    "inputSchema": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "encoding": {"type": "string"}},
        "required": ["path", "encoding"],
    },
}
WRITE: dict[str, Any] = {"name": "writeFile", "inputSchema": {"type": "object"}}
LIST: dict[str, Any] = {"name": "listDir", "inputSchema": {"type": "object"}}


def _catalog(prefixed: bool = True, **tools: dict[str, Any]) -> Catalog:
    return Catalog.build(
        1,
        {"fs": Namer("fs", prefixed=prefixed)},
        {"fs": ServiceCatalog(tools=(READ, WRITE, LIST))},
        overrides={"fs": {name: ToolOverride.model_validate(spec) for name, spec in tools.items()}},
    )


def test_an_override_renames_redescribes_and_hides_fixed_arguments_in_the_listing() -> None:
    catalog = _catalog(
        readFileText={
            "name": "read",
            "description": "Read a UTF-8 text file.",
            "annotations": {"openWorldHint": False},
            "fixed": {"encoding": "utf-8"},
        },
        writeFile={"hide": True},
    )
    listed = catalog.visible("tools", "p", Policy())
    assert listed == snapshot(
        [
            {
                "name": "fs.read",
                "description": "Read a UTF-8 text file.",
                "annotations": {"readOnlyHint": True, "title": "Read", "openWorldHint": False},
                "inputSchema": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}},
                    "required": ["path"],
                },
            },
            {"name": "fs.listDir", "inputSchema": {"type": "object"}},
        ]
    )
    assert READ["inputSchema"]["required"] == ["path", "encoding"], "the service's own is kept"


def test_the_shown_name_routes_back_to_the_services_own_name_and_canonical_subject() -> None:
    catalog = _catalog(readFileText={"name": "read", "fixed": {"encoding": "utf-8"}})
    assert catalog.tool("fs.read") == Route("fs", "readFileText", "fs.readFileText")
    assert catalog.tool("fs.readFileText") is None
    assert catalog.fixed == {"fs.read": {"encoding": "utf-8"}}


def test_a_hidden_tool_has_no_route() -> None:
    catalog = _catalog(writeFile={"hide": True})
    assert catalog.tool("fs.writeFile") is None
    assert catalog.tool("fs.listDir") == Route("fs", "listDir", "fs.listDir")


def test_an_unprefixed_service_is_not_reached_by_the_own_name_of_an_overridden_tool() -> None:
    catalog = _catalog(prefixed=False, writeFile={"hide": True}, readFileText={"name": "read"})
    assert catalog.tool("writeFile") is None
    assert catalog.tool("readFileText") is None
    assert catalog.tool("read") == Route("fs", "readFileText", "fs.readFileText")
    assert catalog.tool("unlisted") == Route("fs", "unlisted", "fs.unlisted")


def test_without_overrides_the_catalog_holds_no_fixed_arguments() -> None:
    catalog = Catalog.build(1, {"fs": Namer("fs")}, {"fs": ServiceCatalog(tools=(READ,))})
    assert catalog.fixed == {}
    assert catalog.tool("fs.readFileText") == Route("fs", "readFileText", "fs.readFileText")


def test_fill_adds_the_fixed_arguments_to_a_copy() -> None:
    params = {"name": "fs.read", "arguments": {"path": "a.txt"}}
    filled = overrides.fill(params, {"encoding": "utf-8"})
    assert filled == {"name": "fs.read", "arguments": {"path": "a.txt", "encoding": "utf-8"}}
    assert params == {"name": "fs.read", "arguments": {"path": "a.txt"}}
    assert overrides.fill({"name": "x"}, {"a": 1}) == {"name": "x", "arguments": {"a": 1}}


@pytest.mark.parametrize(
    "arguments", [{"path": "a", "encoding": "latin-1"}, {"encoding": "utf-8"}, ["a"]]
)
def test_a_call_passing_a_fixed_argument_itself_is_refused(arguments: Any) -> None:
    with pytest.raises(McpError) as raised:
        overrides.fill({"name": "fs.read", "arguments": arguments}, {"encoding": "utf-8"})
    assert raised.value.code == codes.INVALID_PARAMS


def test_without_leaves_a_schema_of_another_shape_alone() -> None:
    assert overrides.without(True, ["a"]) is True
    assert overrides.without({"type": "object"}, ["a"]) == {"type": "object"}
