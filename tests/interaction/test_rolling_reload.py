"""A reload that moves a service reached by URL to a new address: the new upstream is opened
while the old one still serves, new calls go to the new one at once, a call in flight on the
old one finishes there, and only then is the old session closed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from mcp.server import MCPServer

from micro_mcp.config.model import Manifest
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import gateway, sdk_service

pytestmark = pytest.mark.anyio

OLD = {"url": "http://127.0.0.1:9/mcp", "sessions": "shared"}
NEW = {**OLD, "url": "http://127.0.0.1:10/mcp"}


def _text(response: dict[str, Any]) -> str:
    return response["result"]["content"][0]["text"]


def _work(
    answer: str, began: anyio.Event | None = None, finish: anyio.Event | None = None
) -> Callable[[], Awaitable[str]]:
    """A `work` tool answering `answer`, once `finish` is set (if given)."""

    async def work() -> str:
        if began is not None and finish is not None:
            began.set()
            await finish.wait()
        return answer

    return work


async def test_a_service_moved_to_a_new_url_drains_its_calls_before_it_closes() -> None:
    began, finish = anyio.Event(), anyio.Event()
    old, new = MCPServer("old"), MCPServer("new")

    # The same definition on both (pinning would hold a changed one back).
    old.add_tool(_work("old", began, finish), description="Works.")
    new.add_tool(_work("new"), description="Works.")
    reached = [sdk_service(old)]

    async def roll(inbox: Inbox, outbox: Outbox) -> None:
        await reached[0](inbox, outbox)  # whichever address the service is at when opened

    async with gateway({"roll": roll}, entries={"roll": OLD}) as gw:
        client = gw.client()
        await client.initialize()
        slow = client.send("tools/call", {"name": "roll.work", "arguments": {}})
        with anyio.fail_after(5):
            await began.wait()
        before = gw.mesh.services["roll"]

        reached[0] = sdk_service(new)
        changed = await gw.mesh.reload(Manifest.model_validate({"mcpServers": {"roll": NEW}}))
        quick = await client.request("tools/call", {"name": "roll.work", "arguments": {}})
        assert not before.done.is_set()  # still open: a call runs on it

        finish.set()
        answered = await client.response(slow)
        with anyio.fail_after(5):
            await before.done.wait()  # closed once drained

    assert changed["restarted"] == ["roll"]
    assert _text(quick) == "new"
    assert _text(answered) == "old"
    assert gw.mesh.services["roll"] is not before
