"""The audit trail in memory: one `call` and one `reply` record per routed request, joined by the
id the service saw; arguments kept as size and digest unless the operator asks for them."""

from __future__ import annotations

import hashlib
from typing import Any

import anyio
import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.audit.events import AuditEvent
from tests.interaction.harness import Gateway, Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
PRINCIPALS: dict[str, Any] = {
    "alice": {"token": ALICE, "policy": {"deny": ["fs.secret*"]}},
}
ARGUMENTS = {"path": "/home/alice/diary.txt", "mode": "ü"}
CANONICAL = '{"mode":"ü","path":"/home/alice/diary.txt"}'.encode()
"""ARGUMENTS as the audit hashes them: compact JSON, keys sorted, UTF-8."""


def _fs(release: anyio.Event) -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def read(path: str, mode: str) -> str:
        return path

    @server.tool()
    def fail() -> str:
        raise ValueError("the tool failed")

    @server.tool()
    def secret() -> str:
        return "hunter2"

    @server.tool()
    async def hang() -> str:
        await release.wait()
        return "late"

    @server.tool()
    async def block() -> str:
        await release.wait()
        return "late"

    @server.prompt()
    def summary(path: str, mode: str) -> str:
        return path

    return Tap(sdk_service(server))


def _pairs(gw: Gateway) -> dict[str, list[AuditEvent]]:
    """The records of routed requests by correlation id."""
    joined: dict[str, list[AuditEvent]] = {}
    for event in gw.audit.events:
        if event.service is not None:
            joined.setdefault(event.correlation_id, []).append(event)
    return joined


async def test_every_routed_request_has_one_call_and_one_reply_with_the_same_fields() -> None:
    release = anyio.Event()
    fs = _fs(release)
    entries = {"fs": {"toolTimeouts": {"hang": 0.05}}}
    async with gateway({"fs": fs}, {"principals": PRINCIPALS}, entries) as gw:
        client = gw.client(ALICE)
        await client.initialize()
        await client.request("tools/call", {"name": "fs.read", "arguments": ARGUMENTS})
        await client.request("tools/call", {"name": "fs.fail", "arguments": {}})
        await client.request("tools/call", {"name": "fs.hang", "arguments": {}})  # times out
        await client.request("resources/read", {"uri": "fs+file:///nowhere"})
        await client.request("tools/call", {"name": "fs.secret", "arguments": {}})
        await client.request("prompts/get", {"name": "fs.summary", "arguments": ARGUMENTS})
        blocked = client.send("tools/call", {"name": "fs.block", "arguments": {}})
        await fs.wait_for("tools/call", count=4)
        await client.notify("notifications/cancelled", {"requestId": blocked})
        await gw.audit.wait_for(event="reply", outcome="cancelled")

        pairs = _pairs(gw)
        for events in pairs.values():
            call, reply = events
            assert (call.event, reply.event) == ("call", "reply")
            shared = ("principal", "method", "name", "service")
            assert [getattr(call, f) for f in shared] == [getattr(reply, f) for f in shared]
            assert (call.outcome, call.error_code, reply.decision) == (None, None, None)
        rows = [
            (c.principal, c.method, c.name, c.service, c.decision, r.outcome, r.error_code)
            for c, r in pairs.values()
        ]
        assert rows == [
            ("alice", "tools/call", "fs.read", "fs", "allow", "ok", None),
            ("alice", "tools/call", "fs.fail", "fs", "allow", "tool_error", None),
            ("alice", "tools/call", "fs.hang", "fs", "allow", "error", codes.UPSTREAM_TIMEOUT),
            (
                "alice",
                "resources/read",
                "fs.file:///nowhere",
                "fs",
                "allow",
                "error",
                codes.INVALID_PARAMS,
            ),
            ("alice", "tools/call", "fs.secret", "fs", "deny", "denied", codes.POLICY_DENIED),
            ("alice", "prompts/get", "fs.summary", "fs", "allow", "ok", None),
            ("alice", "tools/call", "fs.block", "fs", "allow", "cancelled", None),
        ]
        # The correlation id is the id the service saw, so the two logs join.
        forwarded = [m for m in fs.received if m.get("method") in ("tools/call", "resources/read")]
        forwarded += fs.of("prompts/get")
        seen = {str(m["id"]) for m in forwarded}
        allowed = {cid for cid, (call, _) in pairs.items() if call.decision == "allow"}
        assert seen == allowed
        release.set()


async def test_arguments_are_audited_only_as_size_and_sha256_of_their_canonical_json() -> None:
    async with gateway({"fs": _fs(anyio.Event())}, {"principals": PRINCIPALS}) as gw:
        client = gw.client(ALICE)
        await client.initialize()
        await client.request("tools/call", {"name": "fs.read", "arguments": ARGUMENTS})
        await client.request("prompts/get", {"name": "fs.summary", "arguments": ARGUMENTS})

        calls = gw.audit.of(event="call", service="fs")
        assert [c.method for c in calls] == ["tools/call", "prompts/get"]
        digest = hashlib.sha256(CANONICAL).hexdigest()
        for call in calls:
            assert (call.arguments, call.arguments_size, call.arguments_sha256) == (
                None,
                len(CANONICAL),
                digest,
            )
        trail = b"".join(event.to_json() for event in gw.audit.events)
        assert b"diary" not in trail
        assert digest.encode() in trail


async def test_arguments_are_audited_verbatim_when_include_arguments_is_set() -> None:
    config = {"principals": PRINCIPALS, "audit": {"includeArguments": True}}
    async with gateway({"fs": _fs(anyio.Event())}, config) as gw:
        client = gw.client(ALICE)
        await client.initialize()
        await client.request("tools/call", {"name": "fs.read", "arguments": ARGUMENTS})
        await client.request("prompts/get", {"name": "fs.summary", "arguments": ARGUMENTS})

        calls = gw.audit.of(event="call", service="fs")
        assert [(c.method, c.arguments) for c in calls] == [
            ("tools/call", ARGUMENTS),
            ("prompts/get", ARGUMENTS),
        ]
        assert [(c.arguments_size, c.arguments_sha256) for c in calls] == [(None, None)] * 2
