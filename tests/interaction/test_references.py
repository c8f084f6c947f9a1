"""Credentials by reference in memory: a service gets its `headers` and `env` resolved, a missing
reference fails that service alone, a reload with a rotated secret restarts it with the new
value, and a reload whose reference cannot be read keeps the running one. No value is shown."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus
from mcp.server import MCPServer

from micro_mcp.config.model import GatewayConfig, Manifest, ServiceSpec
from micro_mcp.config.references import ServiceSecrets
from micro_mcp.gateway.operator.snapshot import gateway_status
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.upstream.connect import Connector, OnSession
from micro_mcp.upstream.memory import run_memory_service
from micro_mcp.upstream.session import SessionHandler, UpstreamSession
from micro_mcp.upstream.tokens import Tokens
from tests.interaction.harness import sdk_service

pytestmark = pytest.mark.anyio

SECRET, ROTATED = "first-secret-0123456789", "rotated-secret-9876543210"


def _recording(seen: list[tuple[str, dict[str, str], dict[str, str]]]) -> Connector:
    """An in-memory connector that notes what each connection was given."""

    async def connect(
        namespace: str,
        spec: ServiceSpec,
        handler: SessionHandler,
        on_session: OnSession,
        *,
        base_dir: Path,
        max_message_bytes: int,
        secrets: ServiceSecrets,
        tokens: Tokens | None = None,
        task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        seen.append((namespace, secrets.header_values(), secrets.env_values()))
        serve = sdk_service(MCPServer(namespace))
        await run_memory_service(
            namespace, spec, serve, handler, on_session, task_status=task_status
        )

    return connect


def _manifest(**services: Mapping[str, Any]) -> Manifest:
    return Manifest.model_validate({"mcpServers": services})


API = {"url": "http://api.test/mcp", "headers": {"Authorization": "Bearer ${file:token}"}}
TOOL = {"command": "tool", "env": {"TOOL_KEY": "${env:TOOL_KEY}", "MODE": "plain"}}


@asynccontextmanager
async def _mesh(
    manifest: Manifest, base_dir: Path, seen: list[Any], environ: Mapping[str, str]
) -> AsyncGenerator[Mesh]:
    mesh = Mesh(manifest, GatewayConfig(), base_dir, _recording(seen), environ=environ)
    async with anyio.create_task_group() as tg:
        await tg.start(mesh.run)
        with anyio.fail_after(5):
            await mesh.started.wait()
        yield mesh
        tg.cancel_scope.cancel()


def _shown(mesh: Mesh) -> str:
    status = gateway_status(mesh, Recorder(), "stdio")
    return json.dumps(asdict(status)) + repr(list(mesh.services.values()))


async def test_references_reach_the_service_resolved_and_are_never_shown(tmp_path: Path) -> None:
    (tmp_path / "token").write_text(SECRET + "\n", encoding="utf-8")
    seen: list[Any] = []
    manifest = _manifest(api=API, tool=TOOL)
    async with _mesh(manifest, tmp_path, seen, {"TOOL_KEY": ROTATED}) as mesh:
        assert sorted(seen) == [
            ("api", {"Authorization": f"Bearer {SECRET}"}, {}),
            ("tool", {}, {"TOOL_KEY": ROTATED, "MODE": "plain"}),
        ]
        assert {s.state for s in mesh.services.values()} == {"ready"}
        shown = _shown(mesh)
        assert SECRET not in shown and ROTATED not in shown


async def test_a_missing_reference_fails_its_service_alone_and_names_the_reference(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "token").write_text(SECRET, encoding="utf-8")
    seen: list[Any] = []
    async with _mesh(_manifest(api=API, tool=TOOL), tmp_path, seen, {}) as mesh:
        tool, api = mesh.services["tool"], mesh.services["api"]
        assert (tool.state, api.state) == ("failed", "ready")
        assert [ns for ns, *_ in seen] == ["api"]  # the failed one was never connected
        assert tool.error == (
            "service 'tool': env.TOOL_KEY: ${env:TOOL_KEY}: the variable is unset or empty"
        )
        assert "${env:TOOL_KEY}" in caplog.text
        assert SECRET not in _shown(mesh) + caplog.text


async def test_a_reload_with_a_rotated_secret_restarts_that_service_with_the_new_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = tmp_path / "token"
    token.write_text(SECRET, encoding="utf-8")
    seen: list[Any] = []
    manifest = _manifest(api=API, tool={"command": "tool"})
    async with _mesh(manifest, tmp_path, seen, {}) as mesh:
        unchanged = await mesh.reload(manifest)
        assert unchanged == {"added": [], "removed": [], "restarted": []}
        token.write_text(ROTATED, encoding="utf-8")
        rotated = await mesh.reload(manifest)
        assert rotated == {"added": [], "removed": [], "restarted": ["api"]}
        assert seen[-1] == ("api", {"Authorization": f"Bearer {ROTATED}"}, {})
        assert mesh.services["api"].state == "ready"
        assert SECRET not in caplog.text and ROTATED not in caplog.text


async def test_a_reload_whose_reference_cannot_be_read_keeps_the_running_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = tmp_path / "token"
    token.write_text(SECRET, encoding="utf-8")
    seen: list[Any] = []
    # One service alone: restarting it must not leave the mesh without a running task.
    async with _mesh(_manifest(api=API), tmp_path, seen, {}) as mesh:
        running = mesh.services["api"]
        token.unlink()
        edited = _manifest(api={**API, "timeout": 5})
        assert await mesh.reload(edited) == {"added": [], "removed": [], "restarted": []}
        assert mesh.services["api"] is running and running.state == "ready"
        assert len(seen) == 1
        assert "service 'api': headers.Authorization: ${file:token}" in caplog.text
        # Once the file is back, the next reload applies the edit.
        token.write_text(SECRET, encoding="utf-8")
        assert (await mesh.reload(edited))["restarted"] == ["api"]
        assert SECRET not in caplog.text
