"""`${env:NAME}` and `${file:PATH}` in a service's `env` and `headers`: parsed, resolved, and
never shown (not in a repr, not in an error)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp.config.model import Manifest
from micro_mcp.config.references import (
    MAX_FILE_BYTES,
    Reference,
    ServiceSecrets,
    parse,
    resolve,
    resolve_service,
)
from micro_mcp.errors import ConfigError, UnresolvedReference
from micro_mcp.redaction import Redactor

SECRET = "s3cr3t-value-0123456789"
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)
PATHS = st.from_regex(r"/run/secrets/[a-z0-9._-]{1,12}", fullmatch=True)
LITERALS = st.text(st.characters(codec="utf-8", exclude_characters="$"), min_size=1, max_size=12)
PARTS = st.lists(
    st.one_of(
        LITERALS,
        NAMES.map(lambda name: Reference("env", name)),
        PATHS.map(lambda path: Reference("file", path)),
    ),
    max_size=6,
)


def _merged(parts: list[str | Reference]) -> tuple[str | Reference, ...]:
    """Adjacent literals as one, as `parse` gives them."""
    merged: list[str | Reference] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return tuple(merged)


@given(PARTS)
def test_a_value_parses_into_the_literals_and_references_it_was_written_from(
    parts: list[str | Reference],
) -> None:
    assert parse("".join(map(str, parts))) == _merged(parts)


@given(PARTS)
def test_resolving_replaces_each_reference_and_keeps_the_literal_text(
    parts: list[str | Reference],
) -> None:
    environ = {p.target: f"<{p.target}>" for p in parts if isinstance(p, Reference)}
    files = {Path(p.target): f"  [{p.target}]\n" for p in parts if isinstance(p, Reference)}
    expected = "".join(
        part
        if isinstance(part, str)
        else (f"<{part.target}>" if part.kind == "env" else f"[{part.target}]")
        for part in parts
    )
    resolved = resolve("".join(map(str, parts)), environ, Path("/"), files.__getitem__)
    assert resolved.get_secret_value() == expected


@pytest.mark.parametrize(
    "value",
    ["${env:}", "${env:1ABC}", "${env:A B}", "${file:}", "Bearer ${file:/run/x", "${env:X"],
)
def test_a_malformed_reference_is_refused_in_the_manifest_by_key_not_value(value: str) -> None:
    with pytest.raises(ValueError, match="reference") as caught:
        Manifest.model_validate(
            {"mcpServers": {"api": {"url": "http://x", "headers": {"X": value}}}}
        )
    assert "Value error, X: " in str(caught.value)


def test_other_dollar_braces_are_literal_text() -> None:
    assert parse("${HOME} and $PATH and ${other:x}") == ("${HOME} and $PATH and ${other:x}",)


def test_a_service_secrets_repr_shows_keys_never_values(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n", encoding="utf-8")
    secrets = resolve_service(
        "api",
        {"KEY": "${env:API_KEY}"},
        {"Authorization": "Bearer ${file:token}"},
        environ={"API_KEY": SECRET},
        base_dir=tmp_path,
    )
    assert secrets.header_values() == {"Authorization": f"Bearer {SECRET}"}
    assert secrets.env_values() == {"KEY": SECRET}
    assert secrets.referenced() == [SECRET, SECRET]
    for shown in (repr(secrets), str(secrets), repr(secrets.headers), str(secrets.env)):
        assert SECRET not in shown


def test_a_changed_value_makes_the_secrets_unequal() -> None:
    def of(value: str) -> ServiceSecrets:
        return resolve_service(
            "api", {}, {"X": "${env:V}"}, environ={"V": value}, base_dir=Path("/")
        )

    assert of("one") == of("one")
    assert of("one") != of("two")


@pytest.mark.parametrize(
    ("headers", "environ", "named"),
    [
        ({"X": "${env:MISSING}"}, {}, "${env:MISSING}: the variable is unset"),
        ({"X": "${env:EMPTY}"}, {"EMPTY": ""}, "${env:EMPTY}: the variable is unset or empty"),
        ({"X": "${file:absent}"}, {}, "${file:absent}: cannot read the file"),
        ({"X": "${file:empty}"}, {}, "${file:empty}: the file is empty"),
        ({"X": "${file:big}"}, {}, "${file:big}: it is over"),
        ({"X": "a ${env:NL} b"}, {"NL": f"{SECRET}\r\nInjected: 1"}, "${env:NL} resolves to"),
    ],
)
def test_an_unresolvable_reference_names_service_key_and_reference_never_a_value(
    tmp_path: Path, headers: dict[str, str], environ: dict[str, str], named: str
) -> None:
    (tmp_path / "empty").write_text(" \n", encoding="utf-8")
    (tmp_path / "big").write_text(SECRET * (MAX_FILE_BYTES // len(SECRET) + 1), encoding="utf-8")
    with pytest.raises(UnresolvedReference) as caught:
        resolve_service("api", {}, headers, environ=environ, base_dir=tmp_path)
    message = str(caught.value)
    assert message.startswith("service 'api': headers.X: ")
    assert named in message
    assert SECRET not in message
    assert isinstance(caught.value, ConfigError)


def test_a_service_that_echoes_a_referenced_secret_has_it_redacted_from_its_log() -> None:
    redactor = Redactor([SECRET, "abc"])  # too short to search for: ordinary words stay
    assert redactor.line(f"got token {SECRET}; abc") == "got token [REDACTED:reference]; abc"


def test_the_files_to_watch_are_those_enabled_services_reference_each_once() -> None:
    manifest = Manifest.model_validate(
        {
            "mcpServers": {
                "api": {
                    "url": "http://x",
                    "headers": {"A": "${file:tok}", "B": "x ${file:/run/s/b} ${env:E}"},
                },
                "tool": {"command": "t", "env": {"K": "${file:tok}"}},
                "off": {"command": "t", "env": {"K": "${file:/off}"}, "disabled": True},
            }
        }
    )
    assert manifest.secret_files(Path("/etc/m")) == [Path("/etc/m/tok"), Path("/run/s/b")]
