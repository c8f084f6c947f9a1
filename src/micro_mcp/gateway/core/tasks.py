"""Tasks of the Tasks extension (`io.modelcontextprotocol/tasks`) started through the gateway.

A `tools/call` may answer with a task instead of its result; the client then polls or steers it
with `tasks/get`, `tasks/update` and `tasks/cancel`, naming it by `taskId`. The gateway exposes
a task id like a URI of its service (`ns+id`), so it routes back by exact lookup, and keeps who
started each task with which tool: only that principal reaches it, under that tool's policy. A
task id the gateway did not hand out (another process's, or one from before a restart) is
unknown here, which is the safe answer.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Final

from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Route

TASKS_KEPT: Final = 10_000
"""Task owners remembered at most; the oldest are forgotten first."""


@dataclass(frozen=True, slots=True)
class TaskOwner:
    """Who started a task, and with which tool (its canonical `namespace.name`)."""

    principal: str
    subject: str


class TaskOwners:
    """The tasks started through this gateway, by exposed id, bounded."""

    __slots__ = ("_owners",)

    def __init__(self) -> None:
        self._owners: OrderedDict[str, TaskOwner] = OrderedDict()

    def started(self, exposed_id: str, owner: TaskOwner) -> None:
        """Remember who started the task `exposed_id`."""
        self._owners[exposed_id] = owner
        self._owners.move_to_end(exposed_id)
        while len(self._owners) > TASKS_KEPT:
            self._owners.popitem(last=False)

    def route(
        self, found: Route | None, exposed_id: str, principal: Principal | None
    ) -> Route | None:
        """Where a task request goes, judged by the policy subject of the tool that started
        it: `found` (the catalog's route of the id) when `principal` started the task here."""
        owner = self._owners.get(exposed_id)
        if found is None or owner is None or principal is None:
            return None
        if owner.principal != principal.name:
            return None  # another principal's task does not exist for this one
        return Route(found.namespace, found.name, owner.subject)


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
