"""The command lines the containers run, run here directly: the image's default command,
compose.yaml's and the rendered Kubernetes Deployments', with the secrets `micro-mcp deploy
secrets` writes.

No container engine here can pull a base image, so the image is not built; instead each
container's argv runs as given, after the image's entry point (`micro-mcp`), in a working
directory standing for /data, with the image's environment. Only what a container gets from
outside is mapped: paths under its mounts to files here, the listen port to a free one, and the
services' host names in the manifest to 127.0.0.1. The gateway binds 0.0.0.0 as in a container,
so it needs its token and shows /metrics only with the operator token, as deployed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
import yaml
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from micro_mcp.config.load import load_manifest
from micro_mcp.deploy import kubernetes
from micro_mcp.deploy.layout import plan
from tests.deploy.dockerfile import instructions
from tests.e2e.conftest import GatewayLog, free_port, wait_listening

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = str(Path(sys.executable).parent / "micro-mcp")
"""The image's ENTRYPOINT, the console script pip installs (here, into the test's venv)."""


@dataclass
class Container:
    """One container's argv (after the entry point), environment and mounts."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict[str, str])
    mounts: dict[str, Path] = field(default_factory=dict[str, Path])
    """Container path -> host path."""

    def command(self, port: int) -> list[str]:
        """The argv with mounted paths mapped and the listen port replaced."""
        argv = [ENTRYPOINT, *self.argv]
        argv[argv.index("--port") + 1] = str(port)
        for target, source in self.mounts.items():
            argv = [
                str(source) + a.removeprefix(target) if a.startswith(target) else a for a in argv
            ]
        return argv


@dataclass
class Layout:
    """A deployment read from its files: the gateway, its manifest, the services' containers."""

    gateway: Container
    discovery: dict[str, Any] | None
    """The manifest the gateway is given; None: the packaged one (stdio children)."""
    services: dict[str, Container]
    """By the host name the manifest reaches each at."""
    healthcheck: list[str] | None = None
    """The services' container healthcheck, where the deployment has one."""


def image_env(data: Path) -> dict[str, str]:
    """The Dockerfile's ENV, as the final stage sets it (HOME and PATH mapped)."""
    env: dict[str, str] = {}
    for instruction in instructions(ROOT / "Dockerfile"):
        if instruction.keyword == "ENV" and instruction.stage == 1:
            for pair in instruction.argument.split():
                key, _, value = pair.partition("=")
                env[key] = value
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    env["HOME"] = str(data)
    return env


def from_compose(secrets: Path) -> Layout:
    spec = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = spec["services"]
    gateway = services["gateway"]
    [secret] = gateway["secrets"]
    mounts = {f"/run/secrets/{secret['target']}": secrets / "gateway.json"}
    discovery = json.loads((ROOT / spec["configs"]["discovery"]["file"]).read_text())
    hosts = [urlsplit(entry["url"]).hostname or "" for entry in discovery["mcpServers"].values()]
    containers = {
        host: Container(services[host]["command"], dict(services[host].get("environment", {})))
        for host in hosts
    }
    healthcheck = services["fs"]["healthcheck"]["test"][1:]
    return Layout(Container(gateway["command"], mounts=mounts), discovery, containers, healthcheck)


def from_image(secrets: Path) -> Layout:
    """The Dockerfile's default command: the gateway over the packaged example services."""
    [command] = [i for i in instructions(ROOT / "Dockerfile") if i.keyword == "CMD"]
    mounts = {"/etc/micro-mcp/gateway.json": secrets / "gateway.json"}
    return Layout(Container(command.exec_form(), mounts=mounts), None, {})


def from_kubernetes(secrets: Path) -> Layout:
    options = kubernetes.Options(image="micro-mcp:test")
    objects = kubernetes.render(plan(load_manifest(None)[0]), options)
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    data = by_name["ConfigMap", "micro-mcp-discovery"]["data"]
    discovery = json.loads(data[kubernetes.DISCOVERY_KEY])

    def container(name: str) -> dict[str, Any]:
        return by_name["Deployment", name]["spec"]["template"]["spec"]["containers"][0]

    services: dict[str, Container] = {}
    for entry in discovery["mcpServers"].values():
        host = urlsplit(entry["url"]).hostname or ""
        spec = container(host.split(".")[0])  # the Service is named like its Deployment
        services[host] = Container(
            spec["args"], {e["name"]: e["value"] for e in spec.get("env", [])}
        )
    gateway = Container(
        container("micro-mcp-gateway")["args"], mounts={kubernetes.CONFIG_DIR: secrets}
    )
    return Layout(gateway, discovery, services)


@asynccontextmanager
async def running(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path
) -> AsyncIterator[None]:
    with log.open("wb") as out:
        process = await anyio.open_process(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, cwd=cwd
        )
    async with process:
        try:
            yield
        finally:
            process.terminate()
            with anyio.fail_after(30):
                await process.wait()


@asynccontextmanager
async def logged(argv: list[str], env: dict[str, str], cwd: Path) -> AsyncIterator[GatewayLog]:
    """Run a gateway; yield its stderr line by line as it comes, to wait on what it says."""
    log = GatewayLog()
    read_end, write_end = os.pipe()
    try:
        process = await anyio.open_process(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=write_end,
            env=env,
            cwd=cwd,
        )
    finally:
        os.close(write_end)
    async with process, anyio.create_task_group() as tg:
        tg.start_soon(log.record_fd, read_end)
        try:
            yield log
        finally:
            process.terminate()
            with anyio.fail_after(30):
                await process.wait()


@pytest.mark.parametrize("source", ["image", "compose", "kubernetes"])
async def test_the_deployed_command_lines_serve_the_services_through_the_gateway(
    tmp_path: Path, source: str
) -> None:
    secrets = tmp_path / "secrets"
    done = await anyio.run_process([ENTRYPOINT, "deploy", "secrets", str(secrets)], check=False)
    assert done.returncode == 0, done.stderr
    token = json.loads((secrets / "gateway.json").read_text())["token"]
    operator = (secrets / "operator-token").read_text().strip()
    layouts = {"image": from_image, "compose": from_compose, "kubernetes": from_kubernetes}
    layout = layouts[source](secrets)

    ports = {host: free_port() for host in layout.services}
    mapped = tmp_path / "discovery.json"
    if layout.discovery is not None:
        for entry in layout.discovery["mcpServers"].values():
            url = urlsplit(entry["url"])
            entry["url"] = url._replace(netloc=f"127.0.0.1:{ports[url.hostname or '']}").geturl()
        mapped.write_text(json.dumps(layout.discovery))
    gateway_port = free_port()

    async with AsyncExitStack() as stack:
        for host, service in layout.services.items():
            data = tmp_path / f"data-{host.split('.')[0]}"
            data.mkdir()
            (data / "hello.txt").write_text("hello from the volume")
            service.mounts["/data"] = data
            argv = service.command(ports[host])
            argv[argv.index("--host") + 1] = "127.0.0.1"
            env = {**image_env(data), **service.env}
            await stack.enter_async_context(running(argv, env, data, data / "service.log"))
        for port in ports.values():
            await wait_listening(port)
        if layout.healthcheck is not None:  # compose's service healthcheck, on each service
            for port in ports.values():
                check = [a.replace("8000", str(port)) for a in layout.healthcheck]
                probe = await anyio.run_process(check, check=False, env=image_env(tmp_path))
                assert probe.returncode == 0, probe.stderr

        gateway_data = tmp_path / "data-gateway"
        gateway_data.mkdir()
        (gateway_data / "hello.txt").write_text("hello from the volume")
        argv = layout.gateway.command(gateway_port)
        if layout.discovery is not None:
            argv[argv.index("--discovery") + 1] = str(mapped)
        assert argv[argv.index("--host") + 1] == "0.0.0.0"
        log = await stack.enter_async_context(logged(argv, image_env(gateway_data), gateway_data))
        with anyio.fail_after(60):
            await log.next("gateway ready: 3 of 3 services up")
            await log.next("serving MCP on http://0.0.0.0:")

        base = f"http://127.0.0.1:{gateway_port}"
        async with httpx2.AsyncClient(timeout=10) as http:
            readiness = (await http.get(f"{base}/readyz")).json()
            health = await http.get(f"{base}/healthz")
            refused = await http.get(f"{base}/metrics")
            auth = {"Authorization": f"Bearer {token}"}
            async with (
                httpx2.AsyncClient(headers=auth, timeout=30) as client_http,
                Client(streamable_http_client(f"{base}/mcp", http_client=client_http)) as client,
            ):
                tools = {tool.name for tool in (await client.list_tools()).tools}
                listing = await client.call_tool("fs.listDir", {"path": "."})
                added = await client.call_tool("vector.addDocument", {"text": "deployed words"})
                found = await client.call_tool("vector.search", {"query": "words"})
            operator_auth = {"Authorization": f"Bearer {operator}"}
            metrics = await http.get(f"{base}/metrics", headers=operator_auth)
            status = (await http.get(f"{base}/admin/status", headers=operator_auth)).json()
            anonymous = await http.post(f"{base}/mcp", json={})
        healthcheck = [
            a.replace("127.0.0.1:8765", f"127.0.0.1:{gateway_port}")
            for a in dockerfile_healthcheck()
        ]
        probe = await anyio.run_process(healthcheck, check=False, env=image_env(tmp_path))
        assert probe.returncode == 0, probe.stderr

    assert health.json() == {"status": "ok"}
    assert readiness == {
        "ready": True,
        "degraded": False,
        "services": {"fs": "ready", "http": "ready", "vector": "ready"},
    }
    assert {"fs.listDir", "http.fetchText", "vector.search"} <= tools
    assert listing.structured_content is not None
    assert "hello.txt" in {e["name"] for e in listing.structured_content["entries"]}
    assert not added.is_error
    assert found.structured_content is not None
    assert [hit["snippet"] for hit in found.structured_content["hits"]] == ["deployed words"]
    # Sessionless toward the gateway, so a replaced container at the same URL needs no new
    # handshake (docs/DEPLOY.md relies on it).
    eras = {s["namespace"]: (s["transport"], s["era"]) for s in status["services"]}
    transport = "stdio" if source == "image" else "http"
    assert eras == dict.fromkeys(("fs", "http", "vector"), (transport, "modern"))
    assert refused.status_code == 401  # off loopback, /metrics needs the operator token
    assert metrics.status_code == 200
    assert 'micro_mcp_requests_total{method="tools/call",outcome="ok",service="vector"' in (
        metrics.text
    )
    assert anonymous.status_code == 401
    if source == "compose":  # the vector service keeps its documents on its volume
        assert (tmp_path / "data-vector" / "vectors.db").is_file()


def dockerfile_healthcheck() -> list[str]:
    [check] = [i for i in instructions(ROOT / "Dockerfile") if i.keyword == "HEALTHCHECK"]
    return check.exec_form()
