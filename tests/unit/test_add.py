"""`micro-mcp add` in process: what it asks, what it refuses, what it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from micro_mcp.cli import add
from micro_mcp.cli.main import _parser  # pyright: ignore[reportPrivateUsage]

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "server_json"


def run(tmp_path: Path, *argv: str, answers: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run the command with a prompt that answers from `answers`; returns the exit code and the
    questions asked (with a `*` when asked without echo)."""
    asked: list[str] = []

    def prompt(question: str, secret: bool) -> str:
        asked.append(question + ("*" if secret else ""))
        key = question.split(" ", 1)[0]
        return (answers or {}).get(key, "")

    args = _parser().parse_args(["add", *argv, "--discovery", str(tmp_path / "d.json")])
    return add.run(args, prompt=prompt), asked


def entry(tmp_path: Path, namespace: str) -> dict[str, object]:
    return json.loads((tmp_path / "d.json").read_text())["mcpServers"][namespace]


def test_required_inputs_and_secrets_are_asked_for_and_secrets_without_echo(tmp_path):
    code, asked = run(
        tmp_path, str(EXAMPLES / "with-remote.json"), answers={"Authorization": "Bearer x"}
    )
    assert code == 0
    assert asked == ["Authorization (header, required, secret): *"]
    assert entry(tmp_path, "remote-weather")["headers"] == {"Authorization": "Bearer x"}


def test_an_empty_answer_takes_the_default_and_a_set_value_is_not_asked_again(tmp_path):
    code, asked = run(
        tmp_path,
        str(EXAMPLES / "database-manager-oci.json"),
        "--set",
        "DB_PASSWORD=pw",
        answers={"db_type": "mysql", "database_name": "sales", "DB_USERNAME": "ada"},
    )
    assert code == 0
    assert [q.split(" ", 1)[0] for q in asked] == [
        "DB_USERNAME",
        "db_type",
        "--host",
        "database_name",
    ]
    assert "[localhost]" in asked[2]
    assert "one of: postgres, mysql, mongodb, redis" in asked[1]
    args = entry(tmp_path, "database-manager")["args"]
    assert isinstance(args, list)
    assert args[-3:] == ["--host", "localhost", "sales"]


def test_a_value_outside_the_choices_is_refused(tmp_path, capsys):
    code, _ = run(
        tmp_path,
        str(EXAMPLES / "hybrid.json"),
        "--remote",
        "0",
        "--set",
        "X-API-Key=k",
        "--set",
        "X-Region=mars-1",
    )
    assert code == 2
    assert "X-Region" in capsys.readouterr().err
    assert not (tmp_path / "d.json").exists()


def test_a_set_key_the_server_does_not_declare_is_refused(tmp_path, capsys):
    code, _ = run(tmp_path, str(EXAMPLES / "weather-pypi.json"), "--set", "WEATHER_KEY=w")
    assert code == 2
    assert "--set WEATHER_KEY" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".toml", ".ini"])
def test_only_json_and_yaml_manifests_are_written(tmp_path, capsys, suffix):
    target = str(tmp_path / f"m{suffix}")
    args = _parser().parse_args(
        [
            "add",
            str(EXAMPLES / "weather-pypi.json"),
            "--set",
            "WEATHER_API_KEY=w",
            "--discovery",
            target,
        ]
    )
    assert add.run(args, prompt=None) == 2
    assert "JSON or YAML" in capsys.readouterr().err


def test_a_secret_given_as_a_reference_stays_one_and_is_not_called_clear_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(
        tmp_path,
        str(EXAMPLES / "with-remote.json"),
        answers={"Authorization": "Bearer ${file:/run/secrets/weather}"},
    )
    assert code == 0
    headers = entry(tmp_path, "remote-weather")["headers"]
    assert headers == {"Authorization": "Bearer ${file:/run/secrets/weather}"}
    assert "clear text" not in capsys.readouterr().err
