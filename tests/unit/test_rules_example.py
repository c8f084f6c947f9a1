"""The rules example of the quickstart loads as written and decides as the quickstart says."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import pytest

from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.load import load_config
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.credentials import build_authenticator
from micro_mcp.gateway.serve import serve
from micro_mcp.policy.engine import evaluate
from micro_mcp.policy.rules import Call, Kind, compile_rules

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "gateway.rules.example.json"
CONFIG = load_config(EXAMPLE)
RULES = compile_rules(CONFIG.rules)
PRINCIPALS = {name: p for name, (_, p) in build_authenticator(CONFIG).principals.items()}


def test_the_quickstart_shows_the_example_verbatim() -> None:
    assert EXAMPLE.read_text().strip() in (REPO / "docs" / "QUICKSTART.md").read_text()


@pytest.mark.parametrize(
    ("who", "kind", "subject", "call", "allowed"),
    [
        ("alice", "tools", "fs.readFileText", Call({"path": "docs/guide.md"}), True),
        ("alice", "tools", "fs.listDir", Call({"path": "docs"}), True),
        ("alice", "tools", "fs.readFileText", Call({"path": "docs/../private/key"}), False),
        ("alice", "tools", "fs.readFileText", Call({"path": "src/main.py"}), False),
        ("alice", "resources", "fs.file:///docs/a.md", Call(uri="file:///docs/a.md"), True),
        ("alice", "resources", "fs.file:///private/k", Call(uri="file:///private/k"), False),
        ("alice", "tools", "http.fetchText", Call({"url": "https://a.example.com/"}), False),
        ("bot", "tools", "http.fetchText", Call({"url": "https://a.example.com/"}), True),
        ("bot", "tools", "http.fetchText", Call({"url": "https://example.org/"}), False),
        ("bot", "tools", "fs.readFileText", Call({"path": "docs/guide.md"}), False),
    ],
)
def test_the_example_decides_as_documented(
    who: str, kind: Kind, subject: str, call: Call, allowed: bool
) -> None:
    assert evaluate(PRINCIPALS[who], subject, RULES, kind, call).allowed is allowed


def test_the_gateway_refuses_to_start_on_a_bad_rule_and_says_which(tmp_path: Path) -> None:
    rule = {"id": "broken", "effect": "deny", "tools": ["*"], "when": "args.("}
    config = GatewayConfig.model_validate({"rules": [rule]})
    manifest = Manifest.model_validate({"mcpServers": {}})
    # A plain ConfigError (not one inside a task group's ExceptionGroup): the command line
    # prints it and exits 2.
    with pytest.raises(ConfigError, match=r"rules\[0\] \(id 'broken'\): when:"):
        anyio.run(partial(serve, manifest, tmp_path, config, audit=MemoryAuditSink()))
