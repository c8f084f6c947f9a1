"""The client snippets in docs/clients stay true to the command line and the config model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from micro_mcp.cli.main import _parser  # pyright: ignore[reportPrivateUsage] - the real CLI
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.gateway.serve import TOKEN_ENV

CLIENTS = Path(__file__).resolve().parents[2] / "docs" / "clients"
SNIPPETS = sorted(p for p in CLIENTS.glob("*.json") if p.name != "gateway.json")
GATEWAY_URL = "http://127.0.0.1:8765/mcp"


def entry(path: Path) -> dict[str, Any]:
    """The one server entry of a client snippet (VS Code names the key `servers`)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    servers = document["servers" if path.name.startswith("vscode") else "mcpServers"]
    assert list(servers) == ["mesh"]
    return servers["mesh"]


def test_every_client_has_a_stdio_and_an_http_snippet() -> None:
    names = {p.name for p in SNIPPETS}
    for client in ("claude-desktop", "claude-code", "cursor", "vscode"):
        assert {f"{client}.stdio.json", f"{client}.http.json"} <= names


def test_the_gateway_config_is_valid_and_keeps_tool_names_free_of_dots() -> None:
    config = GatewayConfig.model_validate_json((CLIENTS / "gateway.json").read_text())

    assert config.separator == "_"
    assert config.token is not None
    rules = config.names.rules()
    assert rules.max_length == 64
    assert not rules.allows(".")
    assert rules.allows("fs_listDir-0a1b")


@pytest.mark.parametrize("path", [p for p in SNIPPETS if ".stdio." in p.name], ids=str)
def test_stdio_snippets_run_the_gateway_with_real_flags_and_pass_the_token(path: Path) -> None:
    server = entry(path)
    args = _parser().parse_args(server["args"])

    assert server["command"].endswith("/bin/micro-mcp")
    assert args.command == "gateway"
    assert args.discovery and args.config
    assert set(server["env"]) == {TOKEN_ENV}


@pytest.mark.parametrize("path", [p for p in SNIPPETS if ".http." in p.name], ids=str)
def test_http_snippets_reach_the_default_endpoint_with_a_bearer_token(path: Path) -> None:
    text = json.dumps(entry(path))

    defaults = _parser().parse_args(["gateway", "--transport", "http"])
    assert f"http://{defaults.host}:{defaults.port}/mcp" == GATEWAY_URL
    assert GATEWAY_URL in text
    assert "Bearer" in text


def test_the_cursor_and_claude_formats_are_manifests_the_gateway_reads_too() -> None:
    # The gateway's manifest is the client format: a stdio snippet is a valid manifest entry.
    for name in ("claude-desktop.stdio.json", "cursor.stdio.json", "claude-code.stdio.json"):
        document = json.loads((CLIENTS / name).read_text(encoding="utf-8"))
        Manifest.model_validate(document)
