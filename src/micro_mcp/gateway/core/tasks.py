"""Tasks of the Tasks extension (`io.modelcontextprotocol/tasks`) started through the gateway.

A `tools/call` may answer with a task instead of its result; the client then polls or steers it
with `tasks/get`, `tasks/update` and `tasks/cancel`, naming it by `taskId`. The gateway exposes
a task id like a URI of its service (`ns+id`), so it routes back by exact lookup, and keeps who
started each task with which tool: only that principal reaches it, under that tool's policy. A
task id the gateway did not hand out (another deployment's, or one from before a restart of a
gateway that keeps its state in memory) is unknown here, which is the safe answer; replicas
sharing a store (`state.redis`) know each other's tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Route
from micro_mcp.state.store import MemoryStore, Store

TASKS_KEPT: Final = 10_000
"""Task owners an in-memory store remembers at most; the oldest are forgotten first."""
OWNER_TTL: Final = 7 * 24 * 3600.0
"""Seconds a task's owner is remembered in a shared store (tasks that run longer become
unknown, which is the safe answer)."""


@dataclass(frozen=True, slots=True)
class TaskOwner:
    """Who started a task, and with which tool (its canonical `namespace.name`)."""

    principal: str
    subject: str


class TaskOwners:
    """The tasks started through this gateway (or, on a shared store, any of its replicas),
    by exposed id."""

    __slots__ = ("_store",)

    def __init__(self, store: Store | None = None) -> None:
        self._store: Store = store if store is not None else MemoryStore(TASKS_KEPT)

    async def started(self, exposed_id: str, owner: TaskOwner) -> None:
        """Remember who started the task `exposed_id`."""
        value = orjson.dumps([owner.principal, owner.subject])
        await self._store.put(f"task:{exposed_id}", value, OWNER_TTL)

    async def route(
        self, found: Route | None, exposed_id: str, principal: Principal | None
    ) -> Route | None:
        """Where a task request goes, judged by the policy subject of the tool that started
        it: `found` (the catalog's route of the id) when `principal` started the task here."""
        if found is None or principal is None:
            return None
        stored = await self._store.get(f"task:{exposed_id}")
        if stored is None:
            return None
        owner, subject = orjson.loads(stored)
        if owner != principal.name:
            return None  # another principal's task does not exist for this one
        return Route(found.namespace, found.name, subject)


def expose(namer: Namer, result: dict[str, Any]) -> str | None:
    """Rename a task result's `taskId` (and an inlined tool result's content) to the exposed
    form, in place; return the exposed id (None when the result names no task)."""
    task_id = result.get("taskId")
    if not isinstance(task_id, str):
        return None
    exposed = result["taskId"] = namer.uri(task_id)
    inner = jsonrpc.as_object(result.get("result"))
    if inner is not None:
        namer.rewrite_content(inner.get("content"))
    return exposed


def require_extension(capabilities: dict[str, Any], method: str) -> None:
    """Refuse a task request (`method`) from a client that did not declare the extension.

    Raises:
        McpError: MISSING_REQUIRED_CLIENT_CAPABILITY, naming the extension.
    """
    extensions = jsonrpc.as_object(capabilities.get("extensions")) or {}
    if versions.TASKS_EXTENSION not in extensions:
        raise McpError(
            f"{method} needs the {versions.TASKS_EXTENSION} extension, which the client "
            "did not declare",
            code=codes.MISSING_REQUIRED_CLIENT_CAPABILITY,
            data={"requiredCapabilities": {"extensions": {versions.TASKS_EXTENSION: {}}}},
        )
