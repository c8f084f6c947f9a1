"""Resource subscriptions on services: counted over clients, told to each service once.

Many clients may watch one URI; the service hears `resources/subscribe` when the first one
starts and `resources/unsubscribe` when the last one stops (handshake era), or one
`subscriptions/listen` covering everything the gateway needs from it (2026-07-28). The counting
and what to listen for are pure; `change`, `relisten` and `restore` tell the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from micro_mcp.errors import McpError
from micro_mcp.gateway.services.service import Service
from micro_mcp.protocol.jsonrpc import as_object
from micro_mcp.protocol.versions import Era
from micro_mcp.upstream.session import UpstreamSession

LIST_CHANGED_KEYS: Final = (
    ("tools", "toolsListChanged"),
    ("prompts", "promptsListChanged"),
    ("resources", "resourcesListChanged"),
)
"""A service capability that can change, and the key asking a 2026-07-28 listen for it."""


def count(subscribed: dict[str, int], uri: str, add: bool) -> bool:
    """Count one client subscribing to (or leaving) `uri`; True when the service must be told
    (the first subscriber came, or the last one left)."""
    if not add and uri not in subscribed:
        return False  # nobody watched it: nothing to tell
    total = subscribed.get(uri, 0) + (1 if add else -1)
    if total > 0:
        subscribed[uri] = total
    else:
        subscribed.pop(uri, None)
    return (total == 1 and add) or (total <= 0 and not add)


def listen_wants(capabilities: Mapping[str, Any], subscribed: Mapping[str, int]) -> dict[str, Any]:
    """What one `subscriptions/listen` on a 2026-07-28 service must ask for: the list changes
    it can announce, and every URI some client watches."""
    wanted: dict[str, Any] = {}
    for kind, key in LIST_CHANGED_KEYS:
        declared = as_object(capabilities.get(kind))
        if declared is not None and declared.get("listChanged"):
            wanted[key] = True
    if subscribed:
        wanted["resourceSubscriptions"] = sorted(subscribed)
    return wanted


async def change(service: Service, uri: str, add: bool) -> None:
    """A client subscribed to (or left) a service URI: tell the service if that changes what it
    must send.

    Raises:
        McpError: the service refused or is unavailable.
    """
    if not count(service.subscribed, uri, add):
        return
    try:
        session = service.live_session()
        if session.era is Era.MODERN:
            await relisten(service, session)
        else:
            method = "resources/subscribe" if add else "resources/unsubscribe"
            await session.request(method, {"uri": uri}, timeout=service.spec.timeout)
    except McpError:
        if add:  # the service did not take it: nobody is subscribed after all
            count(service.subscribed, uri, False)
        raise


async def relisten(service: Service, session: UpstreamSession) -> None:
    """Hold one `subscriptions/listen` on a 2026-07-28 service covering all we need from it."""
    wanted = listen_wants(session.capabilities, service.subscribed)
    old = service.listen_id
    service.listen_id = await session.listen(wanted) if wanted else None
    if old is not None:
        await session.unlisten(old)


async def restore(service: Service, session: UpstreamSession) -> None:
    """Tell a (re)started service what its subscribers watch: it forgot them with its process."""
    service.listen_id = None  # any listen belonged to the previous process
    if session.era is Era.MODERN:
        await relisten(service, session)
        return
    for uri in service.subscribed:
        await session.request("resources/subscribe", {"uri": uri}, timeout=service.spec.timeout)
