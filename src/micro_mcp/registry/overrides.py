"""Tool overrides: how a service's tool is shown (name, title, description, annotations, fixed
arguments, hidden), and the call that comes back filled in. Pure.

The shown tool is a copy: the service's own list is never changed. The catalog routes the
shown name back to the service's own one, so policy, rules, audit and the service all keep the
canonical `namespace.name` of the service's own tool; fixed arguments go in on the way in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from micro_mcp import codes
from micro_mcp.config.profiles import ToolOverride
from micro_mcp.errors import McpError
from micro_mcp.protocol.jsonrpc import as_object


def shown(item: dict[str, Any], override: ToolOverride) -> dict[str, Any] | None:
    """The tool as clients see it under `override` (its `name` still the service's own, the
    catalog exposes the new one); None when it is hidden."""
    if override.hide:
        return None
    tool = dict(item)
    if override.title is not None:
        tool["title"] = override.title
    if override.description is not None:
        tool["description"] = override.description
    if override.annotations:
        tool["annotations"] = {**(as_object(item.get("annotations")) or {}), **override.annotations}
    if override.fixed:
        tool["inputSchema"] = without(item.get("inputSchema"), override.fixed.keys())
    return tool


def without(schema: Any, hidden: Any) -> Any:
    """An input schema with the `hidden` properties taken out (from `properties` and
    `required`); a schema of another shape is left as it is."""
    schema_object = as_object(schema)
    if schema_object is None:
        return schema
    gone = set(hidden)
    result = dict(schema_object)
    properties = as_object(schema_object.get("properties"))
    if properties is not None:
        result["properties"] = {k: v for k, v in properties.items() if k not in gone}
    required = schema_object.get("required")
    if isinstance(required, list):
        result["required"] = [r for r in required if r not in gone]  # pyright: ignore[reportUnknownVariableType]
    return result


def fill(params: dict[str, Any], fixed: Mapping[str, Any]) -> dict[str, Any]:
    """The call's params with the fixed arguments in (a shallow copy; `params` unchanged).

    Raises:
        McpError: INVALID_PARAMS, the client passed a fixed argument itself, or `arguments`
            is not an object.
    """
    given = params.get("arguments")
    arguments = as_object(given) if given is not None else {}
    if arguments is None:
        raise McpError("params.arguments must be an object", code=codes.INVALID_PARAMS)
    passed = sorted(key for key in fixed if key in arguments)
    if passed:
        raise McpError(
            f"argument {', '.join(map(repr, passed))} is set by the gateway and may not be passed",
            code=codes.INVALID_PARAMS,
        )
    return {**params, "arguments": {**arguments, **fixed}}
