"""`micro-mcp deploy kubernetes` and `micro-mcp deploy secrets`, through the command line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from micro_mcp.cli.main import main
from micro_mcp.config.load import load_config


def test_kubernetes_prints_a_yaml_stream_with_the_chosen_names(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["deploy", "kubernetes", "--namespace", "mcp", "--image", "img:7", "--name", "m"])

    objects = list(yaml.safe_load_all(capsys.readouterr().out))
    assert code == 0
    assert {o["metadata"]["namespace"] for o in objects} == {"mcp"}
    assert all(o["metadata"]["name"].startswith("m-") for o in objects)
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] != "m-redis"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"img:7"}


def test_kubernetes_writes_to_a_file_and_prints_notes_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    discovery = tmp_path / "discovery.yaml"
    discovery.write_text(
        "mcpServers:\n"
        "  fs: {command: python, args: [-m, micro_mcp.services.fs, --root, docs]}\n"
        "  time: {command: uvx, args: [mcp-server-time]}\n"
    )
    out = tmp_path / "k8s.yaml"

    code = main(["deploy", "kubernetes", "--discovery", str(discovery), "--out", str(out)])

    captured = capsys.readouterr()
    assert code == 0
    assert captured.out == ""
    assert captured.err.startswith("micro-mcp: note: time: stdio command 'uvx'")
    names = [o["metadata"]["name"] for o in yaml.safe_load_all(out.read_text())]
    assert "micro-mcp-fs" in names
    assert "micro-mcp-time" not in names


def test_kubernetes_refuses_a_manifest_with_credentials_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    discovery = tmp_path / "discovery.json"
    discovery.write_text(
        json.dumps({"mcpServers": {"d": {"url": "https://x/mcp", "headers": {"A": "secret"}}}})
    )

    code = main(["deploy", "kubernetes", "--discovery", str(discovery)])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.startswith("micro-mcp: mcpServers.d.headers.A:")


def test_secrets_writes_a_loadable_config_with_fresh_tokens(tmp_path: Path) -> None:
    out = tmp_path / "secrets"

    assert main(["deploy", "secrets", str(out)]) == 0

    config = load_config(out / "gateway.json")
    operator = (out / "operator-token").read_text().strip()
    assert config.token is not None and len(config.token) >= 40
    assert config.telemetry.operator_token == operator
    assert operator != config.token
    assert stat.S_IMODE((out).stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "gateway.json").stat().st_mode) == 0o644


def test_secrets_keeps_the_base_configs_policy_and_tokens(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps(
            {
                "token": "the-operators-own-token-0123",
                "policy": {"allow": ["fs.*"]},
                "principals": {"r": {"token": "reader-token-0123456789"}},
            }
        )
    )

    assert main(["deploy", "secrets", str(tmp_path / "s"), "--config", str(base)]) == 0

    config = load_config(tmp_path / "s" / "gateway.json")
    assert config.token == "the-operators-own-token-0123"
    assert config.policy.allow == ("fs.*",)
    assert config.principals["r"].token == "reader-token-0123456789"
    assert config.telemetry.operator_token is not None


def test_secrets_never_overwrites_tokens_already_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "secrets", str(tmp_path)]) == 0
    before = (tmp_path / "gateway.json").read_text()

    assert main(["deploy", "secrets", str(tmp_path)]) == 2

    assert "exists; remove it first" in capsys.readouterr().err
    assert (tmp_path / "gateway.json").read_text() == before


def test_secrets_names_the_deployments_redis_as_the_rate_limits_and_state_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy", "secrets", str(tmp_path / "a"), "--redis", "redis://redis:6379/0"]) == 0

    config = load_config(tmp_path / "a" / "gateway.json")
    assert config.rate_limits.storage == "redis://redis:6379/0"
    assert config.state.redis == "redis://redis:6379/0"
    out = capsys.readouterr().out
    assert "rate-limit counters: redis://redis:6379/0" in out
    assert "state replicas share (consent, tasks, tool pins): redis://redis:6379/0" in out


def test_secrets_without_redis_leaves_the_state_per_process(tmp_path: Path) -> None:
    assert main(["deploy", "secrets", str(tmp_path / "a")]) == 0

    assert load_config(tmp_path / "a" / "gateway.json").state.redis is None


def test_secrets_keeps_the_state_store_the_base_config_names(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"state": {"redis": "redis://elsewhere:6379/2", "timeout": 5}}))

    argv = ["deploy", "secrets", str(tmp_path / "s"), "--config", str(base)]
    assert main([*argv, "--redis", "redis://redis:6379/0"]) == 0

    config = load_config(tmp_path / "s" / "gateway.json")
    assert config.state.redis == "redis://elsewhere:6379/2"
    assert config.state.timeout == 5
    assert config.rate_limits.storage == "redis://redis:6379/0"


def test_secrets_keeps_a_store_the_base_config_names(tmp_path: Path) -> None:
    base = tmp_path / "base.json"
    base.write_text(json.dumps({"rateLimits": {"storage": "redis://elsewhere:6379/1"}}))

    argv = ["deploy", "secrets", str(tmp_path / "s"), "--config", str(base)]
    assert main([*argv, "--redis", "redis://redis:6379/0"]) == 0

    config = load_config(tmp_path / "s" / "gateway.json")
    assert config.rate_limits.storage == "redis://elsewhere:6379/1"
