"""server.json -> manifest entry: the registry's own examples, validated and translated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from inline_snapshot import snapshot

from micro_mcp.config import server_json
from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.server_json import Input
from micro_mcp.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "server_json"


def example(name: str) -> dict[str, Any]:
    return server_json.validate(json.loads((EXAMPLES / name).read_text()), name)


def answering(values: dict[str, str]) -> tuple[server_json.Answer, list[Input]]:
    """Answers from `values`, else the default; records every input asked about."""
    asked: list[Input] = []

    def answer(wanted: Input) -> str | None:
        asked.append(wanted)
        return values.get(wanted.key, wanted.default)

    return answer, asked


def test_the_vendored_schema_is_the_published_2025_12_11_one():
    assert server_json.SCHEMA_URL == (
        "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"
    )
    assert server_json._validator().schema["$id"] == server_json.SCHEMA_URL  # pyright: ignore[reportPrivateUsage]


@pytest.mark.parametrize(
    ("name", "path"),
    [("bad-name-pattern.json", ": name:"), ("package-version-latest.json", "packages[0].version")],
)
def test_the_registrys_invalid_examples_are_refused_with_the_faults_path(name, path):
    with pytest.raises(ConfigError) as refused:
        example(name)
    assert path in str(refused.value)
    assert "2025-12-11" in str(refused.value)


def test_an_npm_package_runs_with_npx_and_asks_for_its_secret_and_its_argument():
    answer, asked = answering({"API_KEY": "k-123", "config_path": "/etc/weather.toml"})
    made = server_json.entry(example("with-package.json"), answer)
    assert made.spec == snapshot(
        {
            "command": "npx",
            "args": [
                "-y",
                "@modelcontextprotocol/server-weather@1.0.0",
                "/etc/weather.toml",
                "--port",
                "8080",
            ],
            "env": {"API_KEY": "k-123"},
        }
    )
    assert [(i.key, i.kind, i.required, i.secret) for i in asked] == [
        ("API_KEY", "environment variable", True, True),
        ("config_path", "argument", False, False),
    ]
    assert made.secrets == ["env.API_KEY"]
    assert made.missing == []
    ServiceSpec.model_validate(made.spec)


def test_a_required_input_left_unanswered_is_reported_not_guessed():
    answer, _ = answering({})
    made = server_json.entry(example("with-package.json"), answer)
    assert [i.key for i in made.missing] == ["API_KEY"]
    assert "env" not in made.spec


def test_a_remote_fills_its_url_variables_and_headers():
    answer, asked = answering({"Authorization": "Bearer t0k3n"})
    made = server_json.entry(example("with-remote.json"), answer)
    assert made.spec == snapshot(
        {
            "type": "streamable-http",
            "url": "https://api.example.com/mcp",
            "headers": {"Authorization": "Bearer t0k3n"},
        }
    )
    assert [(i.key, i.kind, i.default) for i in asked] == [
        ("host", "variable", "api.example.com"),
        ("Authorization", "header", None),
    ]
    assert made.secrets == ["headers.Authorization"]
    ServiceSpec.model_validate(made.spec)


def test_a_pypi_package_runs_with_its_runtime_hint_and_pinned_version():
    answer, _ = answering({"WEATHER_API_KEY": "w"})
    made = server_json.entry(example("weather-pypi.json"), answer)
    assert made.spec == snapshot(
        {
            "command": "uvx",
            "args": ["weather-mcp-server==0.5.0"],
            "env": {"WEATHER_API_KEY": "w", "WEATHER_UNITS": "celsius"},
        }
    )


def test_an_oci_package_runs_in_docker_with_its_environment_passed_in_by_name():
    values = {"db_type": "postgres", "database_name": "sales", "DB_USERNAME": "ada"}
    answer, _ = answering({**values, "DB_PASSWORD": "s3cret"})
    made = server_json.entry(example("database-manager-oci.json"), answer)
    assert made.spec == snapshot(
        {
            "command": "docker",
            "args": [
                "run",
                "-i",
                "--rm",
                "-e",
                "DB_USERNAME",
                "-e",
                "DB_PASSWORD",
                "-e",
                "SSL_MODE",
                "--network",
                "host",
                "-e",
                "DB_TYPE=postgres",
                "docker.io/example/database-manager-mcp:3.1.0",
                "--host",
                "localhost",
                "sales",
            ],
            "env": {"DB_USERNAME": "ada", "DB_PASSWORD": "s3cret", "SSL_MODE": "prefer"},
        }
    )
    assert made.secrets == ["env.DB_PASSWORD"]


def test_a_package_is_preferred_and_a_remote_can_be_chosen():
    answer, _ = answering({"X-API-Key": "x"})
    server = example("hybrid.json")
    assert server_json.entry(server, answer).spec["command"] == "npx"
    remote = server_json.entry(server, answer, remote=0).spec
    assert remote == {
        "type": "streamable-http",
        "url": "https://mcp.anonymous.modelcontextprotocol.io/http",
        "headers": {"X-API-Key": "x", "X-Region": "us-east-1"},
    }
    assert server_json.entry(server, answer, remote=1).spec["type"] == "sse"
    with pytest.raises(ConfigError):
        server_json.entry(server, answer, package=3)


@pytest.mark.parametrize("name", ["minimal.json", "nuget-knapcode.json"])
def test_a_server_with_nothing_runnable_is_refused_saying_what_it_offers(name):
    answer, _ = answering({})
    with pytest.raises(ConfigError) as refused:
        server_json.entry(example(name), answer)
    assert "npm, pypi, oci" in str(refused.value)


@pytest.mark.parametrize(
    ("name", "namespace"),
    [
        ("io.github.user/local-weather", "local-weather"),
        ("io.github.example/Database_Manager", "database-manager"),
        ("io.x/42-things", "things"),
        ("io.x/___", "server"),
        ("io.x/" + "a" * 40, "a" * 32),
    ],
)
def test_namespace_for_a_registry_name(name, namespace):
    assert server_json.namespace_for(name) == namespace


def test_a_remote_url_with_an_undeclared_placeholder_is_refused():
    server = example("with-remote.json")
    server["remotes"][0]["url"] = "https://{host}/{tenant}/mcp"
    answer, _ = answering({"Authorization": "x"})
    with pytest.raises(ConfigError) as refused:
        server_json.entry(server, answer)
    assert "tenant" in str(refused.value)
    assert "host" not in str(refused.value).split(":")[-1]


def test_secret_values_are_hidden_where_the_entry_is_shown():
    server = example("with-remote.json")
    server["remotes"][0]["url"] = "https://{host}/mcp?key={key}"
    server["remotes"][0]["variables"]["key"] = {"isSecret": True, "isRequired": True}
    answer, _ = answering({"Authorization": "Bearer t", "key": "k-9"})
    made = server_json.entry(server, answer)
    assert made.spec["url"] == "https://api.example.com/mcp?key=k-9"
    assert made.shown() == "https://api.example.com/mcp?key=***"
    assert made.secrets == ["url", "headers.Authorization"]
