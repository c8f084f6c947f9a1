"""Guardrails against a real service process: a result carrying a secret and personal data
reaches the SDK client redacted, and the audit file holds neither (nor the secret the client
sent in its arguments), only what each guardrail did."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client
from mcp_types import TextContent

from tests.e2e.conftest import FIXTURES, gateway_params

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
GITHUB_TOKEN = "ghp_x7Kq2mZ9vB4nR1tY6wE3uI8oP5aS0dF2gH4j"
EMAIL = "jane.doe@example.com"
PHONE = "+1 415-555-0132"
LEAKS = (AWS_KEY, GITHUB_TOKEN, EMAIL, PHONE, "PRIVATE KEY")


async def test_a_leaky_service_result_is_redacted_for_the_client_and_in_the_audit_file(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    crm = {"command": sys.executable, "args": [str(FIXTURES / "leaky_server.py")]}
    config = {
        "audit": {"path": str(audit), "includeArguments": True},
        "guardrails": {"checks": [{"use": "secrets"}, {"use": "pii"}]},
    }
    async with Client(gateway_params(tmp_path, {"crm": crm}, config)) as client:
        result = await client.call_tool("crm.customer", {"name": f"jane {GITHUB_TOKEN}"})
    assert result.structured_content is not None
    assert result.structured_content["email"] == "[REDACTED:EMAIL_ADDRESS]"
    assert result.structured_content["phone"] == "[REDACTED:PHONE_NUMBER]"
    assert result.structured_content["deployKey"] == "[REDACTED:aws_access_key]"
    assert result.structured_content["sshKey"].startswith("[REDACTED:private_key]")
    assert isinstance(result.content[0], TextContent)
    seen = json.dumps(result.structured_content) + result.content[0].text
    assert not any(leak in seen for leak in LEAKS)

    text = audit.read_text()
    assert not any(leak in text for leak in LEAKS)
    records = [json.loads(line) for line in text.splitlines()]
    guardrails = [(r["guardrail"], r["action"], r["stage"]) for r in records if "guardrail" in r]
    assert guardrails == [
        ("secrets", "redact", "arguments"),
        ("secrets", "redact", "result"),
        ("pii", "redact", "result"),
    ]
    [call] = [r for r in records if r["event"] == "call" and r["method"] == "tools/call"]
    assert call["arguments"] == {"name": "jane [REDACTED:github_token]"}
