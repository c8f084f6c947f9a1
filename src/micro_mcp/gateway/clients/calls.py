"""Calls in flight on services: whose progress and log lines belong to whom.

The relay opens an entry for each call it forwards and closes it when the call ends; what a
service sends on its own (progress, log lines, requests for the client) is matched to a call
here. This table is the one owner of that state: nothing else keeps calls by service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.protocol.jsonrpc import RequestId


@dataclass(frozen=True, slots=True)
class CallContext:
    """A call in flight: the client it came from and what travels back to it."""

    client: ClientSession
    request_id: RequestId
    """The client's id for the call, so what belongs to it travels with its response."""
    progress_token: Any
    """The client's own progress token, or None when it asked for no progress."""
    log_level: str | None
    """2026-07-28: the least severe log level the call asked for; None for no log lines."""


class CallTable:
    """Every call in flight, by service and the id the service saw."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[tuple[str, RequestId], CallContext] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, namespace: str, upstream_id: RequestId, call: CallContext) -> None:
        """A call went out on a service under `upstream_id`; `discard` it when it ends."""
        self._calls[namespace, upstream_id] = call

    def discard(self, namespace: str, upstream_id: RequestId) -> None:
        """The call is over."""
        self._calls.pop((namespace, upstream_id), None)

    def get(self, namespace: str, upstream_id: object) -> CallContext | None:
        """The call a service names by the id it was sent (a progress token is one too)."""
        if not isinstance(upstream_id, int | str) or isinstance(upstream_id, bool):
            return None  # only an id names a call; an unhashable one would raise
        return self._calls.get((namespace, upstream_id))

    def of_service(self, namespace: str) -> list[CallContext]:
        """The calls in flight on one service, oldest first."""
        return [call for (ns, _), call in self._calls.items() if ns == namespace]

    def behind(
        self, namespace: str, related: RequestId | None, client: ClientSession | None = None
    ) -> CallContext | None:
        """The call a service's own request belongs to: the one its channel names, else the
        latest on that service when all its calls come from one client (stdio tells nothing);
        with `client` (a session serving only it), the latest of that client's calls."""
        if related is not None:
            return self.get(namespace, related)
        calls = self.of_service(namespace)
        if client is not None:
            calls = [call for call in calls if call.client is client]
        if calls and all(call.client is calls[0].client for call in calls):
            return calls[-1]
        return None
