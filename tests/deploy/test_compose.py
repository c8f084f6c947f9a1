"""compose.yaml: valid by the compose-spec schema, and wired up (commands, ports, files,
networks, secrets) so that what refers to something finds it.

`docker compose` itself is not installed here (Debian's docker-compose is the old 1.x), so the
file is checked against the compose-spec JSON schema, vendored in tests/deploy/schemas/.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from micro_mcp.cli.main import main
from micro_mcp.config.load import load_manifest
from micro_mcp.deploy import secrets
from micro_mcp.deploy.layout import SERVICE_PORT, URL_MAX_RESTARTS, plan
from micro_mcp.services.fs.config import parse_config as fs_config
from micro_mcp.services.http.config import parse_config as http_config
from micro_mcp.services.vector.config import parse_config as vector_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "compose-spec.json"
SERVICE_CONFIGS = {"fs": fs_config, "http": http_config, "vector": vector_config}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def secret_path(service: dict[str, Any], source: str) -> str:
    [entry] = [s for s in service["secrets"] if s["source"] == source]
    return f"/run/secrets/{entry['target']}"


def test_the_file_is_valid_by_the_compose_spec_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)

    jsonschema.Draft7Validator(schema).validate(compose())


def test_the_schema_check_is_live_a_misspelt_key_fails_it() -> None:
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["fs"]["healthchek"] = broken["services"]["fs"].pop("healthcheck")

    with pytest.raises(jsonschema.ValidationError, match="healthchek"):
        jsonschema.Draft7Validator(schema).validate(broken)


def test_each_service_in_the_manifest_is_a_container_the_gateway_reaches() -> None:
    spec = compose()
    services = spec["services"]
    discovery = ROOT / spec["configs"]["discovery"]["file"]
    manifest, _ = load_manifest(discovery)
    gateway_networks = set(services["gateway"]["networks"])

    assert set(manifest.mcp_servers) == {"fs", "http", "vector"}
    for namespace, entry in manifest.mcp_servers.items():
        assert entry.url is not None
        url = urlsplit(entry.url)
        assert url.path == "/mcp"
        assert entry.max_restarts == URL_MAX_RESTARTS
        service = services[url.hostname]
        command = service["command"]
        assert command[:2] == ["service", namespace]
        assert command[-5:] == ["--http", "--host", "0.0.0.0", "--port", str(url.port)]
        assert url.port == SERVICE_PORT
        assert gateway_networks & set(service["networks"])
        # The service's own parser takes its arguments as the container gives them.
        SERVICE_CONFIGS[namespace](command[2:], service.get("environment", {}))


def test_the_manifest_is_the_packaged_one_laid_out_as_the_deploy_code_does() -> None:
    spec = compose()
    discovery = json.loads((ROOT / spec["configs"]["discovery"]["file"]).read_text())
    layout = plan(load_manifest(None)[0])

    assert discovery == layout.manifest_by_url(lambda ns: f"http://{ns}:{SERVICE_PORT}/mcp")
    for container in layout.containers:  # the same services; compose's own paths under /data
        command = spec["services"][container.namespace]["command"]
        assert command[:2] == container.command()[:2]
        assert command[-5:] == container.command()[-5:]


def test_the_gateway_command_parses_and_finds_its_manifest_and_config() -> None:
    gateway = compose()["services"]["gateway"]
    command = gateway["command"]

    assert option(command, "--discovery") == gateway["configs"][0]["target"]
    assert option(command, "--config") == secret_path(gateway, "gateway-config")
    assert gateway["ports"] == [
        f"127.0.0.1:{option(command, '--port')}:{option(command, '--port')}"
    ]
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--help"])
    assert stopped.value.code == 0


def test_the_secrets_are_the_files_micro_mcp_deploy_secrets_writes(tmp_path: Path) -> None:
    files = {name: Path(s["file"]) for name, s in compose()["secrets"].items()}

    assert files == {
        "gateway-config": Path("deploy/compose/secrets") / secrets.CONFIG_FILE,
        "operator-token": Path("deploy/compose/secrets") / secrets.OPERATOR_TOKEN_FILE,
    }
    assert (ROOT / "deploy/compose/.gitignore").read_text().splitlines() == ["secrets/"]
    written = secrets.write_secrets(tmp_path)
    assert {written.config.name, written.operator_token.name} == {f.name for f in files.values()}


def test_prometheus_scrapes_the_gateways_metrics_with_the_operator_token() -> None:
    spec = compose()
    gateway_port = option(spec["services"]["gateway"]["command"], "--port")
    prometheus = spec["services"]["prometheus"]
    config = yaml.safe_load((ROOT / spec["configs"]["prometheus"]["file"]).read_text())

    [job] = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": [f"gateway:{gateway_port}"]}]
    assert job["authorization"]["credentials_file"] == secret_path(prometheus, "operator-token")
    assert set(prometheus["networks"]) & set(spec["services"]["gateway"]["networks"])


def test_grafana_is_provisioned_with_prometheus_and_the_shipped_dashboard() -> None:
    grafana = compose()["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"] if v.startswith("./"))
    providers = yaml.safe_load(
        (ROOT / "deploy/compose/grafana/dashboards/micro-mcp.yaml").read_text()
    )
    sources = yaml.safe_load(
        (ROOT / "deploy/compose/grafana/datasources/prometheus.yaml").read_text()
    )

    for source in mounts:
        assert (ROOT / source).is_dir(), source
    [provider] = providers["providers"]
    dashboards = [s for s, target in mounts.items() if target == provider["options"]["path"]]
    assert dashboards == ["./deploy/grafana"]
    assert (ROOT / "deploy/grafana/micro-mcp.json").is_file()
    [source] = sources["datasources"]
    assert (source["type"], source["url"], source["isDefault"]) == (
        "prometheus",
        "http://prometheus:9090",
        True,
    )


def test_micro_mcp_containers_run_unprivileged_on_a_read_only_root() -> None:
    services = compose()["services"]

    for name in ("gateway", "fs", "http", "vector"):
        service = services[name]
        version = metadata.version("micro-mcp")
        assert service["image"] == "micro-mcp:${MICRO_MCP_VERSION:-" + version + "}"
        assert service["build"] == "."
        assert service["read_only"] is True
        assert service["user"] == "10001:10001"
        assert service["cap_drop"] == ["ALL"]
        assert service["tmpfs"] == ["/tmp:size=64m"]
        assert any(v.endswith(":/data") for v in service["volumes"])


def test_only_the_gateway_http_service_and_observers_have_a_way_out() -> None:
    spec = compose()

    assert spec["networks"]["services"] == {"internal": True}
    reach = {name: set(s["networks"]) for name, s in spec["services"].items()}
    assert {n for n, nets in reach.items() if "egress" in nets} == {"http"}
    assert {n for n, nets in reach.items() if nets == {"services"}} == {"fs", "vector", "redis"}
    assert "ports" not in spec["services"]["redis"]
