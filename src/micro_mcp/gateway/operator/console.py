"""What the operator can do from `/admin` beyond watching: read the catalog of each service with
its schemas, call a tool from the playground, follow the audit trail as it is written.

A playground call goes through the dispatcher like any client's, as the principal `operator`
(allowed everything: the operator token already proves more than any client token), so it is
routed, timed out, audited and counted like the rest.
"""

from __future__ import annotations

from typing import Any, Final, cast

import orjson

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.sinks import AuditTail
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.registry.catalog import KINDS

OPERATOR: Final = Principal("operator", Policy())
"""Who a playground call is made as, in the audit trail and the metrics."""
PROTOCOL: Final = "2026-07-28"
"""The era a playground call is made in: stateless, one request and its answer."""
NAME_KEYS: Final = {
    "tools": "name",
    "prompts": "name",
    "resources": "uri",
    "resourceTemplates": "uriTemplate",
}


class Console:
    """The operator's catalog, playground and audit tail over one gateway's dispatcher."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        audit = dispatcher.audit
        self.tail = audit if isinstance(audit, AuditTail) else None

    def catalog(self) -> dict[str, Any]:
        """Each service's state and items as clients see them (exposed names, full schemas)."""
        mesh = self.dispatcher.mesh
        catalog = mesh.catalog
        services: dict[str, dict[str, Any]] = {
            ns: {"namespace": ns, "state": s.state, **{kind: [] for kind in KINDS}}
            for ns, s in mesh.services.items()
        }
        for kind in KINDS:
            for item in catalog.visible(kind, OPERATOR.name, OPERATOR.policy):
                name = item.get(NAME_KEYS[kind])
                if not isinstance(name, str):
                    continue
                route = (
                    catalog.tool(name)
                    if kind == "tools"
                    else catalog.prompt(name)
                    if kind == "prompts"
                    else catalog.resource(name)
                )
                if route is not None and route.namespace in services:
                    services[route.namespace][kind].append(item)
        return {"generation": catalog.generation, "services": list(services.values())}

    async def call(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """Call the tool that `body` (`{"name": ..., "arguments": {...}}`) names; returns the
        HTTP status and the JSON-RPC response (400 and an error for a body that is not one)."""
        try:
            request: object = orjson.loads(body)
        except orjson.JSONDecodeError:
            return 400, {"error": "the body is not JSON"}
        if not isinstance(request, dict):
            return 400, {"error": 'send {"name": TOOL, "arguments": {...}}'}
        fields = cast(dict[str, Any], request)
        name, arguments = fields.get("name"), fields.get("arguments", {})
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return 400, {"error": 'send {"name": TOOL, "arguments": {...}}'}
        answers: list[Message] = []

        async def deliver(message: Message, related: object) -> None:
            answers.append(message)

        client = ClientSession(deliver, OPERATOR)
        meta = {
            "io.modelcontextprotocol/protocolVersion": PROTOCOL,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "micro-mcp admin", "version": "1"},
        }
        message: Message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments, "_meta": meta},
        }
        await self.dispatcher.handle_request(client, message)
        responses = [m for m in answers if m.get("id") == 1]
        return 200, responses[-1] if responses else {"error": "no answer"}

    def audit(self, after: int) -> dict[str, Any]:
        """The audit records kept since number `after`, and the last number."""
        if self.tail is None:
            return {"enabled": False, "last": after, "events": []}
        kept = self.tail.since(after)
        last = kept[-1][0] if kept else after
        return {"enabled": True, "last": last, "events": [_event(n, e) for n, e in kept]}


def _event(number: int, event: AuditEvent) -> dict[str, Any]:
    fields = orjson.loads(event.to_json())
    return {"number": number, **fields}
