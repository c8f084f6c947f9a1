"""The Tasks extension through the gateway: a task reached by the id the gateway exposes, by the
principal that started it only, under the policy of the tool that started it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from micro_mcp import codes
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import gateway, modern_meta

pytestmark = pytest.mark.anyio

TASKS = {versions.TASKS_EXTENSION: {}}
ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789ab"
CONFIG: dict[str, Any] = {"principals": {"alice": {"token": ALICE}, "bob": {"token": BOB}}}


async def worker(inbox: Inbox, outbox: Outbox) -> None:
    """A 2026-07-28 service whose one tool answers with a task, and whose tasks answer."""
    answers: dict[str, Any] = {
        "server/discover": {
            "supportedVersions": [versions.LATEST_MODERN],
            "capabilities": {"tools": {}, "extensions": TASKS},
        },
        "tools/list": {"tools": [{"name": "render", "inputSchema": {"type": "object"}}]},
        "tools/call": {"resultType": "task", "taskId": "t-1", "status": "working"},
        "tasks/get": {"taskId": "t-1", "status": "completed"},
    }
    async for raw in inbox:
        message = orjson.loads(raw)
        if "id" in message:
            result = answers.get(message["method"])
            reply = jsonrpc.result(message["id"], result) if result is not None else None
            if message["method"] == "tasks/get":
                assert message["params"]["taskId"] == "t-1"  # the service's own id, not ours
            await outbox.send(jsonrpc.encode(reply or jsonrpc.error(message["id"], {})))


def _params(**fields: Any) -> dict[str, Any]:
    capabilities = {"extensions": TASKS}
    return {**fields, "_meta": modern_meta(**{versions.CLIENT_CAPABILITIES_KEY: capabilities})}


async def test_a_task_started_through_the_gateway_is_reached_by_its_exposed_id() -> None:
    async with gateway({"jobs": worker}, CONFIG) as gw:
        alice = gw.client(ALICE)
        started = await alice.request("tools/call", _params(name="jobs.render", arguments={}))
        assert started["result"]["taskId"] == "jobs+t-1"
        polled = await alice.request("tasks/get", _params(taskId="jobs+t-1"))
        assert polled["result"]["taskId"] == "jobs+t-1"
        assert polled["result"]["status"] == "completed"
        discovered = await alice.request("server/discover", _params())
        assert discovered["result"]["capabilities"]["extensions"] == TASKS


async def test_another_principals_task_does_not_exist_for_it() -> None:
    async with gateway({"jobs": worker}, CONFIG) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.request("tools/call", _params(name="jobs.render", arguments={}))
        stolen = await bob.request("tasks/get", _params(taskId="jobs+t-1"))
        assert stolen["error"]["code"] == codes.INVALID_PARAMS
        made_up = await alice.request("tasks/get", _params(taskId="jobs+t-2"))
        assert made_up["error"]["code"] == codes.INVALID_PARAMS


async def test_a_client_without_the_tasks_extension_gets_missing_capability() -> None:
    async with gateway({"jobs": worker}, CONFIG) as gw:
        alice = gw.client(ALICE)
        refused = await alice.request("tasks/get", {"taskId": "jobs+t-1", "_meta": modern_meta()})
        assert refused["error"]["code"] == codes.MISSING_REQUIRED_CLIENT_CAPABILITY
        required = refused["error"]["data"]["requiredCapabilities"]
        assert required == {"extensions": TASKS}
