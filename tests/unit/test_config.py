"""Manifest and config loading: three formats, the packaged default, and operator-facing errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from micro_mcp.config.load import load_config, load_manifest
from micro_mcp.config.model import GatewayConfig, Manifest, PolicySpec
from micro_mcp.errors import ConfigError
from micro_mcp.protocol.names import NameRules

MANIFEST_JSON = """{
  "mcpServers": {
    "fs": {"command": "python", "args": ["-m", "fs"], "env": {"A": "1"}, "timeout": 5},
    "web": {"url": "http://localhost:9000/mcp", "headers": {"X-Key": "k"}, "prefix": false}
  }
}
"""
MANIFEST_YAML = """\
mcpServers:
  fs:
    command: python
    args: ["-m", "fs"]
    env: {A: "1"}
    timeout: 5
  web:
    url: http://localhost:9000/mcp
    headers: {X-Key: k}
    prefix: false
"""
MANIFEST_TOML = """\
[mcpServers.fs]
command = "python"
args = ["-m", "fs"]
env = { A = "1" }
timeout = 5

[mcpServers.web]
url = "http://localhost:9000/mcp"
headers = { X-Key = "k" }
prefix = false
"""
TOKEN_A = "a" * 16
TOKEN_B = "b" * 16


def write(tmp_path: Path, name: str, data: Any) -> Path:
    file = tmp_path / name
    file.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return file


def manifest_error(tmp_path: Path, data: Any, name: str = "discovery.json") -> str:
    file = write(tmp_path, name, data)
    with pytest.raises(ConfigError) as caught:
        load_manifest(file)
    return str(caught.value)


def config_error(tmp_path: Path, data: Any, name: str = "gateway.json") -> str:
    file = write(tmp_path, name, data)
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    return str(caught.value)


def test_same_manifest_in_json_yaml_and_toml_loads_to_equal_models(tmp_path):
    from_json, base = load_manifest(write(tmp_path, "m.json", MANIFEST_JSON))
    from_yaml, _ = load_manifest(write(tmp_path, "m.yaml", MANIFEST_YAML))
    from_yml, _ = load_manifest(write(tmp_path, "m.yml", MANIFEST_YAML))
    from_toml, _ = load_manifest(write(tmp_path, "m.toml", MANIFEST_TOML))
    assert from_json == from_yaml == from_yml == from_toml
    assert base == tmp_path.resolve()
    fs, web = from_json.mcp_servers["fs"], from_json.mcp_servers["web"]
    assert list(from_json.mcp_servers) == ["fs", "web"]
    assert (fs.command, fs.args, fs.env, fs.timeout, fs.prefix) == (
        "python",
        ("-m", "fs"),
        {"A": "1"},
        5.0,
        True,
    )
    assert (web.url, web.headers, web.prefix, web.command) == (
        "http://localhost:9000/mcp",
        {"X-Key": "k"},
        False,
        None,
    )


def test_service_spec_defaults():
    spec = Manifest.model_validate({"mcpServers": {"fs": {"command": "x"}}}).mcp_servers["fs"]
    assert spec.args == ()
    assert spec.env == {}
    assert spec.disabled is False
    assert spec.prefix is True
    assert spec.timeout == 60.0
    assert spec.startup_timeout == 30.0
    assert spec.protocol == "auto"


def test_packaged_default_manifest_has_fs_http_and_vector():
    manifest, base = load_manifest(None)
    assert set(manifest.mcp_servers) == {"fs", "http", "vector"}
    assert all(spec.command is not None for spec in manifest.mcp_servers.values())
    assert base == Path.cwd()


def test_missing_manifest_names_the_file(tmp_path):
    missing = tmp_path / "nowhere.json"
    with pytest.raises(ConfigError) as caught:
        load_manifest(missing)
    assert str(missing) in str(caught.value)


def test_bad_json_names_the_file_and_the_line(tmp_path):
    message = manifest_error(tmp_path, '{\n  "mcpServers": {,}\n}')
    assert "discovery.json" in message
    assert "line 2" in message


@pytest.mark.parametrize(
    ("name", "text"), [("m.yaml", "mcpServers: [a\n"), ("m.toml", "[mcpServers\n")]
)
def test_bad_yaml_or_toml_names_the_file(tmp_path, name, text):
    assert name in manifest_error(tmp_path, text, name)


@pytest.mark.parametrize("data", [[1, 2], "just text", None])
def test_manifest_whose_top_level_is_not_a_mapping_is_refused(tmp_path, data):
    assert "discovery.json" in manifest_error(tmp_path, json.dumps(data))


def test_unknown_key_names_the_file_and_its_path(tmp_path):
    message = manifest_error(tmp_path, {"mcpServers": {"fs": {"command": "x", "bogus": 1}}})
    assert "discovery.json" in message
    assert "mcpServers.fs.bogus" in message


def test_unknown_key_in_yaml_names_the_yaml_file(tmp_path):
    message = manifest_error(
        tmp_path, "mcpServers:\n  fs:\n    command: x\n    bogus: 1\n", "m.yaml"
    )
    assert "m.yaml" in message
    assert "mcpServers.fs.bogus" in message


@pytest.mark.parametrize(
    "spec",
    [
        {"command": "x", "url": "http://a"},
        {},
        {"command": "x", "type": "http"},
        {"url": "http://a", "type": "stdio"},
    ],
)
def test_service_needs_exactly_one_matching_transport(tmp_path, spec):
    message = manifest_error(tmp_path, {"mcpServers": {"fs": spec}})
    assert "discovery.json" in message
    assert "mcpServers.fs" in message


@pytest.mark.parametrize("namespace", ["Fs", "1fs", "f_s", "a" * 33, ""])
def test_bad_namespace_is_refused_and_named(tmp_path, namespace):
    message = manifest_error(tmp_path, {"mcpServers": {namespace: {"command": "x"}}})
    assert "discovery.json" in message
    assert repr(namespace) in message


def test_two_services_without_prefix_are_refused(tmp_path):
    servers = {"a": {"command": "x", "prefix": False}, "b": {"url": "http://b", "prefix": False}}
    message = manifest_error(tmp_path, {"mcpServers": servers})
    assert "discovery.json" in message
    assert "mcpServers" in message


def test_a_disabled_service_without_prefix_does_not_count(tmp_path):
    servers = {
        "a": {"command": "x", "prefix": False},
        "b": {"command": "y", "prefix": False, "disabled": True},
    }
    manifest, _ = load_manifest(write(tmp_path, "m.json", {"mcpServers": servers}))
    assert manifest.mcp_servers["b"].disabled


def test_config_defaults():
    config = load_config(None)
    assert config == GatewayConfig()
    assert config.token is None
    assert config.policy == PolicySpec(allow=("*",), deny=())
    assert config.principals == {}
    assert config.audit.path == "-"
    assert config.audit.include_arguments is False
    assert config.separator == "."
    assert config.page_size == 1000
    assert config.max_message_bytes == 8 * 1024 * 1024


def test_config_loads_principals_with_their_policies(tmp_path):
    data = {
        "token": TOKEN_A,
        "policy": {"allow": ["fs.*"], "deny": ["fs.write*"]},
        "principals": {"ci": {"token": TOKEN_B, "policy": {"allow": ["vector.*"]}}},
        "separator": "__",
        "pageSize": 10,
        "audit": {"path": "audit.jsonl", "includeArguments": True},
    }
    config = load_config(write(tmp_path, "gateway.json", data))
    assert config.token == TOKEN_A
    assert config.policy == PolicySpec(allow=("fs.*",), deny=("fs.write*",))
    assert config.principals["ci"].token == TOKEN_B
    assert config.principals["ci"].policy == PolicySpec(allow=("vector.*",))
    assert (config.separator, config.page_size, config.audit.include_arguments) == ("__", 10, True)


def test_the_old_snake_case_audit_key_still_works_with_a_warning(tmp_path, caplog):
    data = {"audit": {"include_arguments": True}}
    with caplog.at_level(logging.WARNING, logger="micro_mcp.config.model"):
        config = load_config(write(tmp_path, "gateway.json", data))
    assert config.audit.include_arguments is True
    assert "write audit.includeArguments instead" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="micro_mcp.config.model"):
        load_config(write(tmp_path, "new.json", {"audit": {"includeArguments": True}}))
    assert caplog.text == ""


def test_duplicate_tokens_across_principals_are_refused(tmp_path):
    data = {"principals": {"ci": {"token": TOKEN_A}, "ops": {"token": TOKEN_A}}}
    message = config_error(tmp_path, data)
    assert "gateway.json" in message
    assert "'ci'" in message
    assert "'ops'" in message


def test_default_token_reused_by_a_principal_is_refused(tmp_path):
    message = config_error(tmp_path, {"token": TOKEN_A, "principals": {"ci": {"token": TOKEN_A}}})
    assert "'default'" in message
    assert "'ci'" in message


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"principals": {"ci": {"token": "short"}}}, "principals.ci.token"),
        ({"token": "short"}, "token"),
    ],
)
def test_short_token_is_refused_and_its_path_named(tmp_path, data, path):
    message = config_error(tmp_path, data)
    assert "gateway.json" in message
    assert f": {path}:" in message


@pytest.mark.parametrize("separator", [":", "", "+", ".."])
def test_bad_separator_is_refused(tmp_path, separator):
    message = config_error(tmp_path, {"separator": separator})
    assert "gateway.json" in message
    assert "separator" in message


def test_missing_config_file_is_an_error_not_the_defaults(tmp_path):
    missing = tmp_path / "gateway.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(missing)
    assert str(missing) in str(caught.value)


def test_names_default_to_64_characters_of_the_hosts_alphabet():
    assert GatewayConfig().names.rules() == NameRules(64, "A-Za-z0-9_.-")


def test_names_take_camel_case_keys(tmp_path):
    data = {"separator": "_", "names": {"maxLength": 48, "alphabet": "A-Za-z0-9_-"}}
    config = load_config(write(tmp_path, "gateway.json", data))
    assert config.names.rules() == NameRules(48, "A-Za-z0-9_-")


@pytest.mark.parametrize(
    ("names", "path"),
    [
        ({"maxLength": 47}, "names.maxLength"),
        ({"alphabet": "A-Z0-9_.-"}, "names.alphabet"),
        ({"alphabet": "a-z0-9."}, "names.alphabet"),
        ({"alphabet": "z-a"}, "names.alphabet"),
        ({"maxLen": 64}, "names.maxLen"),
    ],
)
def test_bad_names_settings_are_refused_and_their_path_named(tmp_path, names, path):
    message = config_error(tmp_path, {"names": names})
    assert f": {path}:" in message


def test_a_separator_outside_the_names_alphabet_is_refused(tmp_path):
    message = config_error(tmp_path, {"separator": "/"})
    assert "names.alphabet" in message
    config = load_config(
        write(tmp_path, "ok.json", {"separator": "/", "names": {"alphabet": "a-z0-9/-"}})
    )
    assert config.separator == "/"
