"""`micro-mcp token`: the digest it prints is the one the gateway accepts the token by."""

from __future__ import annotations

import argparse
import io

import pytest

from micro_mcp.cli import token
from micro_mcp.config.model import GatewayConfig
from micro_mcp.gateway.credentials import build_authenticator


def test_the_printed_hash_admits_the_token_it_was_made_from() -> None:
    out = io.StringIO()
    code = token.run(
        argparse.Namespace(token_command="hash"), io.StringIO("cli-token-0123456789\n"), out
    )
    config = GatewayConfig.model_validate({"tokenSha256": out.getvalue().strip()})
    authenticator = build_authenticator(config, {})
    assert code == 0
    assert authenticator.authenticate("cli-token-0123456789") is not None
    assert authenticator.authenticate("cli-token-0123456780") is None


def test_a_new_token_is_long_and_random(capsys: pytest.CaptureFixture[str]) -> None:
    made = set()
    for _ in range(2):
        out = io.StringIO()
        assert token.run(argparse.Namespace(token_command="new"), stdout=out) == 0
        made.add(out.getvalue().strip())
    assert len(made) == 2 and all(len(t) >= 40 for t in made)
    assert '"tokenSha256": "' in capsys.readouterr().err


def test_a_short_token_is_refused() -> None:
    code = token.run(
        argparse.Namespace(token_command="hash"), io.StringIO("short\n"), io.StringIO()
    )
    assert code == 2
