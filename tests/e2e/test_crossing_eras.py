"""Crossing protocol eras: a 2026-07-28 service's input_required results, answered by a
handshake-era client through requests the gateway sends it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CreateMessageResult,
    ElicitResult,
    ListRootsResult,
    Root,
    TextContent,
)

from micro_mcp import codes
from tests.e2e.conftest import FIXTURES, gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

MODERN_SERVICE = {
    "command": "python",
    "args": [str(FIXTURES / "conformance_server.py")],
    "protocol": "modern",  # input_required is how a 2026-07-28 service asks
}


def text_of(result: Any) -> str:
    content = result.content[0]
    assert isinstance(content, TextContent), result
    return content.text


async def test_input_required_rounds_become_requests_to_a_handshake_client(
    tmp_path: Path,
) -> None:
    asked: list[tuple[str, str]] = []

    async def on_elicit(context: Any, params: Any) -> ElicitResult:
        asked.append(("elicitation", params.message))
        return ElicitResult(action="accept", content={"name": "Ada", "color": "teal"})

    async def on_sample(context: Any, params: Any) -> CreateMessageResult:
        asked.append(("sampling", params.messages[0].content.text))
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text="Hello!"), model="test"
        )

    async def on_roots(context: Any) -> ListRootsResult:
        asked.append(("roots", ""))
        return ListRootsResult(roots=[Root(uri="file:///work", name="work")])

    params = gateway_params(tmp_path, {"svc": MODERN_SERVICE})
    async with Client(
        params,
        mode="legacy",
        elicitation_callback=on_elicit,
        sampling_callback=on_sample,
        list_roots_callback=on_roots,
    ) as client:
        assert client.protocol_version == "2025-11-25"
        rounds = await client.call_tool("svc.test_input_required_result_multi_round", {})
        several = await client.call_tool("svc.test_input_required_result_multiple_inputs", {})
    assert text_of(rounds) == "Multi-round completed"
    state_ok, _, answers = text_of(several).partition(": ")
    assert state_ok == "state-ok", "the service's requestState came back intact"
    answered = json.loads(answers)
    assert answered["user_name"]["content"]["name"] == "Ada"
    assert answered["greeting"]["content"]["text"] == "Hello!"
    assert answered["client_roots"]["roots"][0]["uri"] == "file:///work"
    assert asked == [
        ("elicitation", "Step 1: What is your name?"),
        ("elicitation", "Step 2: What is your favorite color?"),
        ("elicitation", "What is your name?"),
        ("sampling", "Generate a greeting"),
        ("roots", ""),
    ]


async def test_a_handshake_client_without_the_capability_gets_the_services_refusal(
    tmp_path: Path,
) -> None:
    async with Client(gateway_params(tmp_path, {"svc": MODERN_SERVICE}), mode="legacy") as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("svc.test_input_required_result_elicitation", {})
    assert refused.value.error.code == codes.MISSING_REQUIRED_CLIENT_CAPABILITY


async def test_a_client_that_declines_is_passed_on_to_the_service(tmp_path: Path) -> None:
    async def decline(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    params = gateway_params(tmp_path, {"svc": MODERN_SERVICE})
    async with Client(params, mode="legacy", elicitation_callback=decline) as client:
        declined = await client.call_tool("svc.test_input_required_result_elicitation", {})
    assert json.loads(text_of(declined).partition(": ")[2]) == {"user_name": {"action": "decline"}}
