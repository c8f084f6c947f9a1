"""The lifecycle requests: how the gateway introduces itself, in either era.

`initialize` (handshake era) settles the session's version and records what the client
declared; `server/discover` (2026-07-28) states what the gateway speaks. Both carry the
services' instructions, each under its namespace; `server/discover` also passes on the protocol
extensions the services offer (the Tasks extension, say), so a client may use them through the
gateway. `logging/setLevel` sets what the client wants to hear of the services' logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.clients.client import LOG_LEVELS, ClientSession
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.eras import CAPABILITIES, GATEWAY_INFO
from micro_mcp.protocol.versions import Era


def initialize(
    client: ClientSession, params: dict[str, Any], services: Iterable[Service]
) -> dict[str, Any]:
    """The `initialize` result; the client's era, version, capabilities and info are set."""
    version = versions.negotiate_handshake(params.get("protocolVersion"))
    client.era, client.version = Era.HANDSHAKE, version
    capabilities = params.get("capabilities")
    client.capabilities = capabilities if isinstance(capabilities, dict) else {}
    info = params.get("clientInfo")
    client.client_info = info if isinstance(info, dict) else {}
    result: dict[str, Any] = {
        "protocolVersion": version,
        "capabilities": CAPABILITIES,
        "serverInfo": GATEWAY_INFO,
    }
    return _instructed(result, services)


def discover(services: Iterable[Service]) -> dict[str, Any]:
    """The `server/discover` result."""
    services = list(services)
    capabilities: dict[str, Any] = dict(CAPABILITIES)
    extensions = _extensions(services)
    if extensions:
        capabilities["extensions"] = extensions
    result: dict[str, Any] = {
        "supportedVersions": list(versions.MODERN_VERSIONS),
        "capabilities": capabilities,
    }
    return _instructed(result, services)


def set_level(client: ClientSession, params: dict[str, Any]) -> dict[str, Any]:
    """The `logging/setLevel` result, once the client's level is set.

    Raises:
        McpError: the level is not one of the syslog levels MCP names.
    """
    level = params.get("level")
    if level not in LOG_LEVELS:
        raise McpError(f"level must be one of {', '.join(LOG_LEVELS)}", code=codes.INVALID_PARAMS)
    client.log_level = str(level)
    return {}


def _extensions(services: Iterable[Service]) -> dict[str, Any]:
    """The protocol extensions the ready services offer (the first service's settings win)."""
    merged: dict[str, Any] = {}
    for service in services:
        if service.session is not None and service.state == "ready":
            offered = jsonrpc.as_object(service.session.capabilities.get("extensions"))
            for name, settings in (offered or {}).items():
                merged.setdefault(name, settings)
    return merged


def _instructed(result: dict[str, Any], services: Iterable[Service]) -> dict[str, Any]:
    """`result` with the services' instructions, each under its namespace, if any has some."""
    instructions = "\n\n".join(
        f"[{service.namespace}] {service.session.instructions}"
        for service in services
        if service.session is not None and service.session.instructions
    )
    if instructions:
        result["instructions"] = instructions
    return result
