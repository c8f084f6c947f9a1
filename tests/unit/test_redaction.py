"""Secrets of known shapes are redacted from service stderr lines; ordinary text is not."""

from __future__ import annotations

import pytest

from micro_mcp import redaction
from micro_mcp.redaction import Redactor, redact
from tests.unit.guardrail_fixtures import AWS_KEY, GITHUB_TOKEN, PEM_KEY

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"using {GITHUB} now", "using [REDACTED:github_token] now"),
        ("key AKIAIOSFODNN7EXAMPLE loaded", "key [REDACTED:aws_key] loaded"),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer [REDACTED:jwt]"),
        ("Authorization: bearer abcdefgh12345678", "Authorization: bearer [REDACTED:credential]"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [REDACTED:credential]"),
        (
            "dsn postgres://app:hunter22@db:5432/x",
            "dsn postgres://app:[REDACTED:url_password]@db:5432/x",
        ),
        ("API_KEY=abcd1234efgh", "API_KEY=[REDACTED:assigned]"),
        ('{"client_secret": "zzzzzzzz"}', '{"client_secret": "[REDACTED:assigned]"}'),
        ("password: 's3cr3t!'", "password: '[REDACTED:assigned]'"),
        ("sk-ant-api03-abcdefghijklmnopqrstuvwxyz012", "[REDACTED:api_key]"),
        ("sk_live_abcdefghijklmnop1234", "[REDACTED:stripe_key]"),
        ("xoxb-1234567890-abcdefghij", "[REDACTED:slack_token]"),
        ("glpat-abcdefghijklmnopqrstu", "[REDACTED:gitlab_token]"),
        ("AIza" + "S" * 35, "[REDACTED:google_api_key]"),
        ("listening on 127.0.0.1:8080", "listening on 127.0.0.1:8080"),
        ("my token is fine; the secret of success", "my token is fine; the secret of success"),
        ("read 42 files in 3 ms", "read 42 files in 3 ms"),
    ],
)
def test_known_secret_shapes_are_redacted_and_plain_text_is_not(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_every_line_of_a_private_key_block_is_hidden() -> None:
    redactor = Redactor()
    lines = [
        "loading key",
        "-----BEGIN RSA PRIVATE KEY-----",
        "MIIEpAIBAAKCAQEA1c7x",
        "q3J0aGVyZQ==",
        "-----END RSA PRIVATE KEY-----",
        "key loaded",
    ]
    assert [redactor.line(line) for line in lines] == [
        "loading key",
        *["[REDACTED:private_key]"] * 4,
        "key loaded",
    ]


def test_redact_value_hides_secrets_at_any_depth_and_whole_pem_blocks() -> None:
    value = {"a": [f"id {AWS_KEY}", {"k": PEM_KEY}], "n": 1, GITHUB_TOKEN: None}
    redacted = redaction.redact_value(value)
    assert redacted == {
        "a": ["id [REDACTED:aws_key]", {"k": "[REDACTED:private_key]\n"}],
        "n": 1,
        "[REDACTED:github_token]": None,
    }


def test_find_gives_the_secret_alone() -> None:
    text = "db: https://bob:s3cretpw@db.local/x and password=hunter22"
    assert [text[s:e] for s, e, _ in redaction.find(text)] == ["s3cretpw", "hunter22"]
