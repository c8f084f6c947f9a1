"""The two protocol eras, as rules over messages: which era a request belongs to, what each
era's requests must carry, and how a result is dressed for the era of the client it goes to.

Pure: no I/O. The gateway applies these rules toward clients (`gateway/core/eras.py`) and the
upstream session applies `stamp` toward services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from micro_mcp import __version__, codes
from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.versions import Era

GATEWAY_INFO: Final = {"name": "micro-mcp", "version": __version__}
"""How the gateway introduces itself, to services and to clients."""
CAPABILITIES: Final = {
    "tools": {"listChanged": True},
    "prompts": {"listChanged": True},
    "resources": {"subscribe": True, "listChanged": True},
    "completions": {},
    "logging": {},
}
"""What the gateway offers every client, whatever its services offer: it routes them all."""
LIST_METHODS: Final = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resourceTemplates",
}
"""The list methods, and the key each result carries its items under."""
CACHEABLE: Final = frozenset({*LIST_METHODS, "resources/read", "server/discover"})
"""Results that 2026-07-28 requires to carry `ttlMs` and `cacheScope`."""
HANDSHAKE_ONLY: Final = frozenset(
    {"initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"}
)
"""Handshake-era methods that 2026-07-28 removed: METHOD_NOT_FOUND (HTTP 404) on that path."""
_MODERN_ONLY_FIELDS: Final = ("resultType", "ttlMs", "cacheScope")


@dataclass(frozen=True, slots=True)
class Settled:
    """What a 2026-07-28 request tells of its client: era, version, capabilities, identity."""

    era: Era
    version: str
    capabilities: dict[str, Any]
    client_info: dict[str, Any] | None


def settle(era: Era | None, method: str, params: dict[str, Any]) -> Settled | None:
    """Settle, or hold a client to, the protocol era of its connection; `era` is the one it
    has so far. Returns what the request settles (None when it settles nothing new).

    As the official SDK does, the first request decides: `initialize` means the handshake
    era; a request carrying the 2026-07-28 `_meta` envelope means 2026-07-28.

    Raises:
        McpError: the request does not fit the connection's era, or lacks its envelope.
    """
    declared = versions.request_version(params)
    if method == "initialize":
        if era is Era.MODERN:
            raise McpError(
                "this connection serves 2026-07-28; the initialize handshake is not accepted",
                code=codes.UNSUPPORTED_PROTOCOL_VERSION,
                data={
                    "supported": list(versions.MODERN_VERSIONS),
                    "requested": params.get("protocolVersion"),
                },
            )
        return None  # the handshake itself settles the era (Dispatcher._initialize)
    if declared is not None or method == "server/discover":
        if era is Era.HANDSHAKE:
            raise McpError(
                "this connection negotiated its version with initialize; requests carrying "
                "the 2026-07-28 envelope are not accepted on it",
                code=codes.INVALID_REQUEST,
            )
        meta = jsonrpc.as_object(params.get(versions.META))
        capabilities = jsonrpc.as_object(
            meta.get(versions.CLIENT_CAPABILITIES_KEY) if meta is not None else None
        )
        if declared is None or capabilities is None:
            raise McpError(
                "params._meta must carry 'io.modelcontextprotocol/protocolVersion' and "
                "'io.modelcontextprotocol/clientCapabilities'",
                code=codes.INVALID_PARAMS,
            )
        if declared not in versions.MODERN_VERSIONS:
            raise McpError(
                "Unsupported protocol version",
                code=codes.UNSUPPORTED_PROTOCOL_VERSION,
                data={"supported": list(versions.MODERN_VERSIONS), "requested": declared},
            )
        info = jsonrpc.as_object(meta.get(versions.CLIENT_INFO_KEY) if meta is not None else None)
        return Settled(Era.MODERN, declared, capabilities, info)
    if era is None and method != "ping":
        raise McpError(
            f"{method} before initialize: send initialize (or use the 2026-07-28 envelope)",
            code=codes.INVALID_REQUEST,
        )
    if era is Era.MODERN:
        raise McpError(
            "params._meta must carry 'io.modelcontextprotocol/protocolVersion' and "
            "'io.modelcontextprotocol/clientCapabilities'",
            code=codes.INVALID_PARAMS,
        )
    return None


def dress_result(era: Era | None, method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Dress a result for the client's era: 2026-07-28 fields on, or off.

    Raises:
        McpError: an `input_required` (or other non-complete) result for a handshake-era client.
    """
    meta = result.get(versions.META)
    if isinstance(meta, dict) and versions.SERVER_INFO_KEY in meta:
        del meta[versions.SERVER_INFO_KEY]  # the service's identity stays behind the gateway
        if not meta:
            del result[versions.META]
    if era is Era.MODERN:
        result.setdefault("resultType", "complete")
        if method in CACHEABLE and result["resultType"] == "complete":
            result.setdefault("ttlMs", 0)
            result.setdefault("cacheScope", "private")
        meta = result.get(versions.META)
        if not isinstance(meta, dict):
            meta = result[versions.META] = {}
        meta[versions.SERVER_INFO_KEY] = GATEWAY_INFO
        return result
    if result.get("resultType", "complete") != "complete":
        raise McpError(
            f"the service answered {method} with a {result['resultType']!r} result, which "
            "only 2026-07-28 clients can take; connect with protocol 2026-07-28",
            code=codes.MISSING_REQUIRED_CLIENT_CAPABILITY,
        )
    for name in _MODERN_ONLY_FIELDS:
        result.pop(name, None)
    return result


def needs_input(era: Era | None, result: dict[str, Any]) -> bool:
    """Whether `result` asks for input the gateway must get from a handshake-era client itself
    (a 2026-07-28 client answers input_required on its own)."""
    return era is Era.HANDSHAKE and result.get("resultType") == "input_required"
