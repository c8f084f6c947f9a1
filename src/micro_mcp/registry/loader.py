"""Fetch a service's catalog, draining every page of every list it offers."""

from __future__ import annotations

import logging
from typing import Any, Final

from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.eras import LIST_METHODS
from micro_mcp.registry.catalog import ServiceCatalog
from micro_mcp.upstream.session import UpstreamSession

logger = logging.getLogger(__name__)

MAX_PAGES: Final = 1000
"""Pages read from one list before giving up: a service whose cursor never ends must not hang
the gateway."""
_CAPABILITY: Final = {
    "tools/list": "tools",
    "prompts/list": "prompts",
    "resources/list": "resources",
    "resources/templates/list": "resources",
}


async def load_service_catalog(
    session: UpstreamSession,
    timeout: float,
    only: str | None = None,
    previous: ServiceCatalog | None = None,
) -> ServiceCatalog:
    """Read the lists the service declares in its capabilities (all, or just kind `only`)."""
    lists: dict[str, tuple[dict[str, Any], ...]] = {}
    for method, kind in LIST_METHODS.items():
        if only is not None and kind != only:
            lists[kind] = previous.items(kind) if previous is not None else ()
            continue
        if _CAPABILITY[method] not in session.capabilities:
            lists[kind] = ()
            continue
        lists[kind] = await drain(session, method, kind, timeout)
    return ServiceCatalog(
        tools=lists["tools"],
        prompts=lists["prompts"],
        resources=lists["resources"],
        resource_templates=lists["resourceTemplates"],
    )


async def drain(
    session: UpstreamSession, method: str, kind: str, timeout: float
) -> tuple[dict[str, Any], ...]:
    """Every item of one list, following `nextCursor` to the end."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
        result = await session.request(method, params, timeout=timeout)
        items.extend(jsonrpc.objects_in(result.get(kind)))
        cursor = result.get("nextCursor")
        if not isinstance(cursor, str):
            return tuple(items)
        if cursor in seen:
            logger.warning(
                "service %s repeats cursor %r in %s; stopped", session.namespace, cursor, method
            )
            return tuple(items)
        seen.add(cursor)
    logger.warning(
        "service %s returned over %d pages of %s; truncated", session.namespace, MAX_PAGES, method
    )
    return tuple(items)
