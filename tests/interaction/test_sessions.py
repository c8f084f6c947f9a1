"""Which upstream session a client's call goes over: shared, or one of its own."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.types import SamplingMessage, TextContent

from micro_mcp.protocol.jsonrpc import Message
from tests.interaction.harness import gateway, sdk_service

pytestmark = [
    pytest.mark.anyio,
    # 2026-07-28 deprecates sampling; handshake-era clients still use it, which is the point.
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

SAMPLING = {"sampling": {}}


def _sampler() -> MCPServer:
    server = MCPServer("llm")

    @server.tool()
    async def summarize(ctx: Context) -> str:
        """Asks the client's model, as a handshake-era server can."""
        message = SamplingMessage(role="user", content=TextContent(type="text", text="hi"))
        result = await ctx.session.create_message(
            [message], max_tokens=5, related_request_id=ctx.request_id
        )
        return f"model said {getattr(result.content, 'text', '')}"

    return server


def _model(request: Message) -> dict[str, Any]:
    assert request["method"] == "sampling/createMessage"
    return {"role": "assistant", "content": {"type": "text", "text": "ok"}, "model": "m"}


async def test_a_service_by_url_can_sample_a_handshake_era_client_by_default() -> None:
    # The service speaks 2026-07-28 too, where it could not ask: the client gets a
    # handshake-era session of its own on it, as if it had connected directly.
    entries = {"llm": {"url": "http://llm.invalid/mcp"}}
    async with gateway({"llm": sdk_service(_sampler())}, entries=entries) as gw:
        assert gw.mesh.services["llm"].live_session().era.value == "modern"
        client = gw.client()
        client.answer = _model
        await client.initialize(SAMPLING)
        reply = await client.request("tools/call", {"name": "llm.summarize", "arguments": {}})
        assert reply["result"]["structuredContent"] == {"result": "model said ok"}
        assert [m["method"] for m in client.notifications] == ["sampling/createMessage"]


async def test_a_stdio_service_shares_its_session_unless_told_per_client() -> None:
    async with gateway({"llm": sdk_service(_sampler())}) as gw:
        client = gw.client()
        client.answer = _model
        await client.initialize(SAMPLING)
        reply = await client.request("tools/call", {"name": "llm.summarize", "arguments": {}})
        # Over its shared 2026-07-28 session the service has no way back to this client.
        assert "result" not in reply or reply["result"].get("isError") is True
        assert not gw.mesh.services["llm"].client_sessions

    entries = {"llm": {"sessions": "per-client"}}
    async with gateway({"llm": sdk_service(_sampler())}, entries=entries) as gw:
        client = gw.client()
        client.answer = _model
        await client.initialize(SAMPLING)
        reply = await client.request("tools/call", {"name": "llm.summarize", "arguments": {}})
        assert reply["result"]["structuredContent"] == {"result": "model said ok"}


async def test_the_clients_own_session_ends_when_it_leaves() -> None:
    entries = {"llm": {"url": "http://llm.invalid/mcp"}}
    async with gateway({"llm": sdk_service(_sampler())}, entries=entries) as gw:
        client = gw.client()
        client.answer = _model
        await client.initialize(SAMPLING)
        await client.request("tools/call", {"name": "llm.summarize", "arguments": {}})
        service = gw.mesh.services["llm"]
        assert client.session in service.client_sessions
        gw.mesh.clients.release(client.session)
        assert client.session not in service.client_sessions
