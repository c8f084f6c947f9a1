"""`micro-mcp check`: whose decisions are shown, and what the report says about a mesh."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from micro_mcp.cli.check import oauth_roles, run, select_principals
from micro_mcp.cli.check_report import Item, MeshReport, ServiceReport, render
from micro_mcp.config.model import GatewayConfig
from micro_mcp.gateway.credentials import build_authenticator
from micro_mcp.policy.engine import ANONYMOUS
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.policy.rules import compile_rules

TOKENS = GatewayConfig.model_validate(
    {
        "token": "default-token-0123456789",
        "policy": {"allow": ["fs.*"]},
        "principals": {
            "reader": {"token": "reader-token-0123456789", "policy": {"allow": ["fs.read*"]}}
        },
    }
)
READY = ServiceReport(
    "fs",
    "python -m fs",
    "ready",
    protocol="2026-07-28",
    server="fs 1.0",
    counts={"tools": 2, "prompts": 0, "resources": 0, "resourceTemplates": 1},
)
ITEMS = (
    Item("tools", "fs.listDir", "fs", "fs.listDir", "List a directory.\nMore text."),
    Item("tools", "fs.readFile", "fs", "fs.readFile", "Read a file."),
    Item("resourceTemplates", "fs+file:///{path}", "fs", "fs.file:///{path}", "A file."),
)


def report_text(report: MeshReport, principals: list[Principal] | None, **flags: Any) -> str:
    out = io.StringIO()
    render(Console(file=out, width=200), "test.json", report, principals, **flags)
    return out.getvalue()


def row(text: str, name: str) -> list[str]:
    """The cells of the table row that starts with `name`."""
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("│ ").split("│")]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{text}")


def test_every_configured_principal_is_shown_without_a_token() -> None:
    principals = select_principals(build_authenticator(TOKENS), None)

    assert principals is not None
    assert [p.name for p in principals] == ["default", "reader"]


def test_a_token_selects_its_own_principal() -> None:
    principals = select_principals(build_authenticator(TOKENS), "reader-token-0123456789")

    assert principals is not None
    assert [p.name for p in principals] == ["reader"]


def test_a_token_of_no_principal_selects_none() -> None:
    assert select_principals(build_authenticator(TOKENS), "wrong-token-0123456789") is None


def test_without_tokens_every_client_is_anonymous_whatever_the_token() -> None:
    authenticator = build_authenticator(GatewayConfig())

    for token in (None, "anything-at-all-0123456789"):
        principals = select_principals(authenticator, token)
        assert principals is not None
        assert [p.name for p in principals] == [ANONYMOUS]


def test_report_shows_each_principals_decision_per_exposed_item() -> None:
    principals = [
        Principal("default", Policy(allow=("fs.*",), deny=("fs.readFile",))),
        Principal("reader", Policy(allow=("fs.read*",))),
    ]
    text = report_text(MeshReport((READY,), ITEMS, (), 0.25), principals)

    assert row(text, "fs.listDir")[1:] == ["fs", "List a directory.", "allow", "deny"]
    assert row(text, "fs.readFile")[3:] == ["deny", "allow"]
    assert row(text, "fs+file:///{path}")[3:] == ["allow", "deny"]
    assert row(text, "fs")[2:5] == ["ready", "2026-07-28", "fs 1.0"]
    assert "OK: 1 of 1 services started in 0.2 s" in text
    assert "tools 2, prompts 0, resources 0, resource templates 1" in text


def test_with_rules_the_report_shows_what_each_principal_is_listed() -> None:
    config = GatewayConfig.model_validate(
        {
            "rules": [
                {
                    "id": "r",
                    "effect": "allow",
                    "groups": ["g"],
                    "tools": ["fs.read*"],
                    "when": 'under(args.path, "docs")',
                },
                {"id": "t", "effect": "allow", "resources": ["fs.*"]},
            ]
        }
    )
    principals = [Principal("in", Policy(), groups=frozenset({"g"})), Principal("out", Policy())]
    report = MeshReport((READY,), ITEMS, (), 0.25)
    text = report_text(report, principals, rules=compile_rules(config.rules))

    assert row(text, "fs.listDir")[3:] == ["deny", "deny"]
    assert row(text, "fs.readFile")[3:] == ["allow", "deny"]
    assert row(text, "fs+file:///{path}")[3:] == ["allow", "allow"]


def test_report_explains_a_service_that_did_not_start() -> None:
    failed = ServiceReport(
        "broken",
        "broken-server --port 1",
        "failed",
        error="service 'broken' is unavailable: its process ended",
        stderr=("reading settings", "no such file: /etc/broken.toml"),
    )
    disabled = ServiceReport("off", "off-server", "disabled")
    text = report_text(MeshReport((READY, failed, disabled), ITEMS, (), 1.0), [])

    assert "broken did not start" in text
    assert "its process ended" in text
    assert "no such file: /etc/broken.toml" in text
    assert row(text, "off")[2] == "disabled"
    assert "FAILED: 1 of 2 services started" in text
    assert "did not start: broken" in text


def test_report_says_when_the_token_matches_no_principal() -> None:
    text = report_text(MeshReport((READY,), ITEMS, (), 0.1), None)

    assert "FAILED:" in text
    assert "the token matches no principal" in text
    assert "Policies" not in text


def test_report_notes_an_open_gateway_and_shows_warnings() -> None:
    open_principal = Principal(ANONYMOUS, Policy())
    warning = "tool 'fs.listDir' of service extra clashes with service fs; hidden"
    report = MeshReport((READY,), ITEMS, (warning,), 0.1)

    text = report_text(report, [open_principal], open_gateway=True)

    assert f"warning: {warning}" in text
    assert "every client is 'anonymous'" in text


def test_text_from_services_prints_as_written_not_as_markup() -> None:
    service = ServiceReport("odd", "serve --tag [/] [bold]x", "ready", server="[link=http://x]s[/]")
    items = (Item("tools", "odd.t", "odd", "odd.t", "Closes [/] and opens [red]"),)

    text = report_text(MeshReport((service,), items, (), 0.1), [Principal("p", Policy())])

    assert "serve --tag [/] [bold]x" in text
    assert "[link=http://x]s[/]" in text
    assert "Closes [/] and opens [red]" in text


def test_a_rule_whose_condition_does_not_compile_is_an_invalid_configuration(
    tmp_path: Path,
) -> None:
    config = tmp_path / "gateway.json"
    rule = {"id": "typo", "effect": "allow", "tools": ["*"], "when": "arg.path == 'x'"}
    config.write_text(json.dumps({"rules": [rule]}))
    out = io.StringIO()
    args = argparse.Namespace(discovery=None, config=str(config), token=None)
    assert run(args, Console(file=out, width=200)) == 2
    assert "rules[0] (id 'typo'): when: unknown variable 'arg'" in out.getvalue()


def test_with_oauth_the_principals_token_holders_can_be_given_are_shown_too() -> None:
    config = GatewayConfig.model_validate(
        {
            "tokenEnv": "UNUSED",
            "policy": {"allow": []},
            "principals": {"readers": {"policy": {"allow": ["fs.read*"]}}, "unused": {}},
            "oauth": {
                "issuer": "https://issuer.example",
                "resource": "https://gw.example/mcp",
                "jwksUri": "https://issuer.example/jwks",
                "principals": [{"group": "staff", "principal": "readers"}],
            },
        }
    )
    roles = oauth_roles(config, {"default"})

    assert [p.name for p in roles] == ["readers"]
    assert roles[0].policy.allows("fs.readFile") and not roles[0].policy.allows("fs.write")
    assert [p.name for p in oauth_roles(config, set())] == ["readers", "default"]
    assert oauth_roles(TOKENS, set()) == []
