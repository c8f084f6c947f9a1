"""MCP protocol versions, the two eras, and the reserved `_meta` keys of 2026-07-28."""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Any, Final

from micro_mcp.protocol.jsonrpc import as_object

HANDSHAKE_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
"""Versions negotiated by the `initialize` handshake, oldest first."""
MODERN_VERSIONS: Final = ("2026-07-28",)
"""Stateless versions: every request carries its version in `_meta`."""
LATEST_HANDSHAKE: Final = HANDSHAKE_VERSIONS[-1]
PRIMING_SINCE: Final = "2025-11-25"
"""The first version whose clients take a priming SSE event (an id and empty data, SEP-1699);
older ones may not expect an event without a message."""
LATEST_MODERN: Final = MODERN_VERSIONS[-1]

META: Final = "_meta"
PROTOCOL_VERSION_KEY: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_KEY: Final = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
LOG_LEVEL_KEY: Final = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY: Final = "io.modelcontextprotocol/serverInfo"
SUBSCRIPTION_ID_KEY: Final = "io.modelcontextprotocol/subscriptionId"
"""On notifications of a `subscriptions/listen` stream: the id of the listen request."""
RESERVED_PREFIX: Final = "io.modelcontextprotocol/"
"""Keys under this prefix belong to one hop; a relay sets its own instead of forwarding them."""
TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
"""The Tasks extension's name, under `extensions` in capabilities."""
TASK_METHODS: Final = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})
"""The methods of the Tasks extension (`io.modelcontextprotocol/tasks`); each names its task
by `taskId`."""
NAME_FIELDS: Final = MappingProxyType(
    {
        "tools/call": "name",
        "prompts/get": "name",
        "resources/read": "uri",
        **dict.fromkeys(sorted(TASK_METHODS), "taskId"),
    }
)
"""Method -> the params field its 2026-07-28 HTTP request mirrors into `Mcp-Name` (SEP-2243;
the Tasks extension adds its methods' `taskId`)."""


class Era(Enum):
    """How a peer speaks MCP."""

    HANDSHAKE = "handshake"
    MODERN = "modern"


def era_of(version: str) -> Era:
    """The era a known protocol version belongs to."""
    return Era.MODERN if version in MODERN_VERSIONS else Era.HANDSHAKE


def negotiate_handshake(requested: object) -> str:
    """The version to answer an `initialize` with: the client's if we speak it, else our latest."""
    if isinstance(requested, str) and requested in HANDSHAKE_VERSIONS:
        return requested
    return LATEST_HANDSHAKE


def request_version(params: dict[str, Any] | None) -> str | None:
    """The 2026-07-28 protocol version a request declares in `_meta`, if any."""
    if params is None:
        return None
    meta = as_object(params.get(META))
    if meta is not None:
        version = meta.get(PROTOCOL_VERSION_KEY)
        if isinstance(version, str):
            return version
    return None
