"""Which manifest entries get a container of their own, and the manifest that reaches them."""

from __future__ import annotations

from typing import Any

import pytest

from micro_mcp.config.load import load_manifest
from micro_mcp.config.model import Manifest
from micro_mcp.deploy.layout import SERVICE_PORT, URL_MAX_RESTARTS, Container, plan
from micro_mcp.errors import ConfigError


def manifest(**servers: dict[str, Any]) -> Manifest:
    return Manifest.model_validate({"mcpServers": servers})


def url_of(namespace: str) -> str:
    return f"http://{namespace}.svc:{SERVICE_PORT}/mcp"


def test_the_packaged_example_services_each_get_a_container() -> None:
    layout = plan(load_manifest(None)[0])

    assert layout.containers == (
        Container("fs", "fs", ("--root", ".")),
        Container("http", "http", (), {"ALLOWLIST": layout.containers[1].env["ALLOWLIST"]}),
        Container("vector", "vector", ()),
    )
    assert "example.com" in layout.containers[1].env["ALLOWLIST"]
    assert layout.notes == ()


def test_both_spellings_of_an_example_service_are_recognised() -> None:
    layout = plan(
        manifest(
            a={"command": "python3", "args": ["-m", "micro_mcp.services.vector", "--db", "v.db"]},
            b={"command": "micro-mcp", "args": ["service", "fs", "--writable"]},
        )
    )

    assert [(c.namespace, c.service, c.args) for c in layout.containers] == [
        ("a", "vector", ("--db", "v.db")),
        ("b", "fs", ("--writable",)),
    ]


def test_a_containers_command_serves_http_on_the_service_port() -> None:
    container = Container("docs", "fs", ("--root", "/srv"))

    assert container.command() == [
        "service",
        "fs",
        "--root",
        "/srv",
        "--http",
        "--host",
        "0.0.0.0",
        "--port",
        str(SERVICE_PORT),
    ]


def test_the_rewritten_manifest_keeps_gateway_options_and_drops_process_keys() -> None:
    layout = plan(
        manifest(
            fs={
                "command": "python",
                "args": ["-m", "micro_mcp.services.fs"],
                "env": {"FS_WRITABLE": "1"},
                "timeout": 5,
                "toolTimeouts": {"glob": 2},
                "maxRestarts": 3,
                "sandbox": {"readOnly": ["x"]},
            }
        )
    )

    assert layout.manifest_by_url(url_of) == {
        "mcpServers": {
            "fs": {
                "url": "http://fs.svc:8000/mcp",
                "timeout": 5.0,
                "toolTimeouts": {"glob": 2.0},
                "maxRestarts": 3,
            }
        }
    }
    assert layout.notes == (
        "fs: sandbox left out: they shape a process the gateway starts; a container of its "
        "own has its pod's resources and securityContext",
    )


def test_a_container_left_to_the_default_keeps_being_reconnected() -> None:
    layout = plan(manifest(v={"command": "python", "args": ["-m", "micro_mcp.services.vector"]}))

    entry = layout.manifest_by_url(url_of)["mcpServers"]["v"]

    assert entry == {"url": "http://v.svc:8000/mcp", "maxRestarts": URL_MAX_RESTARTS}
    # What is written must load as a manifest again.
    assert Manifest.model_validate(layout.manifest_by_url(url_of)).mcp_servers["v"].url


def test_other_stdio_commands_and_urls_stay_as_they_are_with_a_note_for_stdio() -> None:
    time = {"command": "uvx", "args": ["mcp-server-time"], "timeout": 10}
    remote = {"url": "https://mcp.example.com/mcp"}
    off = {"command": "python", "args": ["-m", "micro_mcp.services.fs"], "disabled": True}
    layout = plan(manifest(time=time, remote=remote, off=off))

    assert layout.containers == ()
    assert layout.manifest_by_url(url_of)["mcpServers"] == {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "timeout": 10.0},
        "remote": remote,
        "off": {"command": "python", "args": ["-m", "micro_mcp.services.fs"], "disabled": True},
    }
    assert len(layout.notes) == 1
    assert layout.notes[0].startswith("time: stdio command 'uvx' stays inside the gateway's")


def test_a_module_that_is_not_an_example_service_stays_with_the_gateway() -> None:
    layout = plan(manifest(x={"command": "python", "args": ["-m", "micro_mcp.services.nope"]}))

    assert layout.containers == ()


def test_a_url_with_credentials_in_headers_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^mcpServers\.docs\.headers\.Authorization: "):
        plan(
            manifest(
                docs={"url": "https://x.example/mcp", "headers": {"Authorization": "Bearer t"}}
            )
        )


def test_an_example_service_that_picks_its_own_transport_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^mcpServers\.fs\.args: leave out --http"):
        plan(manifest(fs={"command": "micro-mcp", "args": ["service", "fs", "--port", "9"]}))
