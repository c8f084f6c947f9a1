"""Progressive discovery: three meta-tools with which a host finds the catalog's tools.

With `discovery.enabled`, tools/list shows `gateway.searchTools`, `gateway.describeTool` and
`gateway.callTool` (names from the config) instead of every tool, so a host's context holds
three definitions, not hundreds. Search ranks the tools the caller may list (the same
policy-and-rules view tools/list gives it) with BM25 (`registry/search.py`); a tool it may
not list is never found nor described. A call through `callTool` becomes the tools/call it
stands for before it is routed, so policy, rules, rate limits, consent and the audit see the
target tool, as if the host had called it by name.

The index is built once per catalog snapshot, on the first search after a change, in a worker
thread (half a second for 3,000 tools would otherwise stall every client); the mask of each
caller's view is kept beside it. With discovery off the dispatcher holds no
`Discovery`, and a tools/list or tools/call pays one `is None` for it.
"""

from __future__ import annotations

from typing import Any, Final

import anyio
import anyio.to_thread
import numpy as np
import numpy.typing as npt
import orjson

from micro_mcp import codes
from micro_mcp.config.discovery import DiscoverySpec
from micro_mcp.errors import McpError
from micro_mcp.registry.catalog import Catalog
from micro_mcp.registry.search import ToolIndex

SUMMARY_CHARS: Final = 200
"""Longest description a search result carries; describeTool gives the whole definition."""


class Discovery:
    """The meta-tools of one gateway, and the search index of the current catalog."""

    def __init__(self, spec: DiscoverySpec) -> None:
        self.spec = spec
        names = spec.names
        self.search_name, self.describe_name, self.call_name = (
            names.search,
            names.describe,
            names.call,
        )
        self.names: Final = frozenset((names.search, names.describe, names.call))
        """The meta-tools' names; a service's tool of the same name is shadowed by them."""
        self.tools: Final = _definitions(spec)
        self._index: tuple[Catalog, ToolIndex] | None = None
        self._building = anyio.Lock()
        self._masks: dict[int, tuple[list[dict[str, Any]], npt.NDArray[np.bool_]]] = {}

    async def prepare(self, catalog: Catalog) -> None:
        """Have the search index of `catalog` ready, built off the event loop (one build at a
        time; a caller that waited finds it built)."""
        if self._index is not None and self._index[0] is catalog:
            return
        async with self._building:
            if self._index is None or self._index[0] is not catalog:
                index = await anyio.to_thread.run_sync(ToolIndex, catalog.items("tools"))
                self._masks.clear()
                self._index = (catalog, index)

    def listing(self, visible: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """What tools/list shows a caller who may use `visible`."""
        if self.spec.listing == "meta":
            return self.tools
        return [*self.tools, *(tool for tool in visible if tool.get("name") not in self.names)]

    def answer(
        self, name: str, arguments: Any, catalog: Catalog, visible: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The result of a searchTools or describeTool call by a caller who may use `visible`
        (after `prepare(catalog)`; without it, the index is built here, on the caller's thread).

        Raises:
            McpError: INVALID_PARAMS, the arguments do not fit the tool's input schema.
        """
        args = _arguments(arguments)
        if name == self.search_name:
            return self._search(args, catalog, visible)
        wanted = args.get("name")
        if not isinstance(wanted, str):
            raise McpError("arguments.name must be a string", code=codes.INVALID_PARAMS)
        tool = next((t for t in visible if t.get("name") == wanted), None)
        if tool is None or wanted in self.names:
            return _result({"error": f"No tool named {wanted!r}; search for one first"}, True)
        return _result({"tool": tool}, False)

    def forwarded(self, params: dict[str, Any]) -> dict[str, Any]:
        """The tools/call params a callTool call stands for (the client's `_meta` kept).

        Raises:
            McpError: INVALID_PARAMS, no target name, arguments that are not an object, or a
            meta-tool as the target.
        """
        args = _arguments(params.get("arguments"))
        target = args.get("name")
        if not isinstance(target, str) or target in self.names:
            raise McpError(
                "arguments.name must name a tool other than the meta-tools",
                code=codes.INVALID_PARAMS,
            )
        inner = args.get("arguments", {})
        if not isinstance(inner, dict):
            raise McpError("arguments.arguments must be an object", code=codes.INVALID_PARAMS)
        return {**params, "name": target, "arguments": inner}

    def _search(
        self, args: dict[str, Any], catalog: Catalog, visible: list[dict[str, Any]]
    ) -> dict[str, Any]:
        query = args.get("query")
        if not isinstance(query, str):
            raise McpError("arguments.query must be a string", code=codes.INVALID_PARAMS)
        limit = args.get("limit", self.spec.limit)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise McpError("arguments.limit must be a positive integer", code=codes.INVALID_PARAMS)
        index = self._index_of(catalog)
        hits = index.search(query, min(limit, self.spec.max_limit), self._mask(index, visible))
        found = [_summary(catalog.tool_item(hit.name) or {"name": hit.name}) for hit in hits]
        return _result({"tools": found}, False)

    def _index_of(self, catalog: Catalog) -> ToolIndex:
        if self._index is None or self._index[0] is not catalog:
            self._masks.clear()
            self._index = (catalog, ToolIndex(catalog.items("tools")))
        return self._index[1]

    def _mask(self, index: ToolIndex, visible: list[dict[str, Any]]) -> npt.NDArray[np.bool_]:
        # The catalog keeps one visible list per snapshot and caller view, so its identity
        # stands for the view; the list is held here so the id cannot be reused.
        kept = self._masks.get(id(visible))
        if kept is None or kept[0] is not visible:
            kept = (visible, index.mask(str(t.get("name")) for t in visible))
            self._masks[id(visible)] = kept
        return kept[1]


def _arguments(arguments: Any) -> dict[str, Any]:
    if arguments is None:
        return {}
    if not isinstance(arguments, dict):
        raise McpError("params.arguments must be an object", code=codes.INVALID_PARAMS)
    return arguments  # pyright: ignore[reportUnknownVariableType] -- JSON object from the wire


def _summary(tool: dict[str, Any]) -> dict[str, Any]:
    description = tool.get("description")
    text = " ".join(description.split()) if isinstance(description, str) else ""
    if len(text) > SUMMARY_CHARS:
        text = text[: SUMMARY_CHARS - 1].rstrip() + "…"
    return {"name": tool.get("name"), "description": text}


def _result(content: dict[str, Any], is_error: bool) -> dict[str, Any]:
    text = orjson.dumps(content).decode()
    result: dict[str, Any] = {"content": [{"type": "text", "text": text}], "isError": is_error}
    if not is_error:
        result["structuredContent"] = content
    return result


def _definitions(spec: DiscoverySpec) -> list[dict[str, Any]]:
    names = spec.names
    read_only = {"readOnlyHint": True, "openWorldHint": False}
    return [
        {
            "name": names.search,
            "description": (
                "Search the tools this gateway offers you, by what you want to do. Returns "
                f"the best matches, best first: name and short description. Then call "
                f"{names.describe} for a tool's input schema and {names.call} to run it."
            ),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "query": {
                        "type": "string",
                        "description": "What you want to do, in words (e.g. 'read a file').",
                    },
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": spec.max_limit,
                        "description": f"How many tools to return (default {spec.limit}).",
                    },
                },
                "required": ["query"],
            },
            "annotations": read_only,
        },
        {
            "name": names.describe,
            "description": (
                "The full definition of one tool found by "
                f"{names.search}: description and input schema."
            ),
            "inputSchema": {
                "type": "object",
                "properties": {"name": {"type": "string", "description": "The tool's name."}},
                "required": ["name"],
            },
            "annotations": read_only,
        },
        {
            "name": names.call,
            "description": (
                f"Call a tool found by {names.search} with arguments that fit its input "
                "schema; returns the tool's own result."
            ),
            "inputSchema": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "The tool's name."},
                    "arguments": {
                        "type": "object",
                        "description": "The tool's arguments.",
                    },
                },
                "required": ["name"],
            },
        },
    ]
