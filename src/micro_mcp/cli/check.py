"""`micro-mcp check`: start a manifest's services once, show what the gateway would expose, stop.

The files are loaded as `micro-mcp gateway` loads them, the services are started by the
gateway's own mesh (same launch, handshake, catalog loading and namespacing), and each
principal's policy is evaluated on every exposed item by the policy engine itself; then the
services are stopped. Exit code: 0 when every enabled service started, 1 when one did not (or
`--token` matches no principal), 2 when a file is invalid.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections import defaultdict, deque
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import anyio
from rich.console import Console

from micro_mcp.cli.check_report import Item, MeshReport, ServiceReport, render
from micro_mcp.config.load import load_config, load_manifest
from micro_mcp.config.model import GatewayConfig, Manifest, ServiceSpec
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.credentials import build_authenticator
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.gateway.services.service import Service
from micro_mcp.policy.engine import Authenticator
from micro_mcp.policy.model import Policy, Principal
from micro_mcp.policy.rules import compile_rules
from micro_mcp.registry.catalog import KINDS, Catalog, Route

STDERR_LINES: Final = 20
"""The last lines of a service's stderr kept to explain why it did not start."""
SERVICE_LOGGER: Final = "micro_mcp.service."
"""Where the gateway logs each service's stderr, one logger per namespace."""
SHOWN_ELSEWHERE: Final = frozenset({"micro_mcp.gateway.services.mesh"})
"""Loggers whose warnings the report already shows as service states."""
ITEM_KEYS: Final = {
    "tools": "name",
    "prompts": "name",
    "resources": "uri",
    "resourceTemplates": "uriTemplate",
}
"""The field naming an item of each kind."""
_EVERYTHING: Final = Policy()
"""Allows every subject: the catalog before any principal's policy."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Give the `check` command its arguments."""
    parser.description = (
        "Validate a manifest and a gateway config, start every service once, show the catalog "
        "the gateway would expose and each principal's policy decisions, then stop them."
    )
    parser.add_argument("--discovery", metavar="FILE", help="the manifest; default: the examples")
    parser.add_argument("--config", metavar="FILE", help="the gateway config: tokens, policy")
    parser.add_argument(
        "--token",
        help="show decisions for the principal with this token only; '-' reads it from stdin "
        "(which keeps it out of the process list)",
    )


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run `micro-mcp check`; returns the exit code."""
    # Piped output gets a width that fits the tables, not the 80 columns rich assumes.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    try:
        manifest, base_dir = load_manifest(args.discovery)
        config = load_config(args.config)
        rules = compile_rules(config.rules)
        authenticator = build_authenticator(config)
    except ConfigError as exc:
        console.print("[bold red]invalid configuration[/]")
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        return 2
    token: str | None = args.token
    if token == "-":
        token = sys.stdin.readline().strip()
    principals = select_principals(authenticator, token)
    if principals is not None and token is None:
        principals += oauth_roles(config, {p.name for p in principals})
    report = anyio.run(probe, manifest, config, base_dir)
    title = args.discovery or "the packaged example manifest"
    render(
        console,
        title,
        report,
        principals,
        open_gateway=authenticator.open_principal is not None,
        rules=rules,
    )
    return 1 if report.failed or principals is None else 0


def oauth_roles(config: GatewayConfig, shown: set[str]) -> list[Principal]:
    """With OAuth configured, the principals token holders can be given (named in
    `oauth.principals` or `oauth.defaultPrincipal`) that are not shown already."""
    if config.oauth is None:
        return []
    names = [grant.principal for grant in config.oauth.principals]
    names.append(config.oauth.default_principal)
    roles: list[Principal] = []
    for name in dict.fromkeys(names):
        if name in shown:
            continue
        spec = config.policy if name == "default" else config.principals[name].policy
        roles.append(Principal(name, Policy(allow=spec.allow, deny=spec.deny)))
    return roles


def select_principals(authenticator: Authenticator, token: str | None) -> list[Principal] | None:
    """The principals to show decisions for: the owner of `token`, or every configured one.

    None when `token` matches no principal. A config without tokens has one principal,
    `anonymous`, whatever the token.
    """
    if authenticator.open_principal is not None:
        return [authenticator.open_principal]
    if token is not None:
        found = authenticator.authenticate(token)
        return None if found is None else [found]
    return [principal for _, principal in authenticator.principals.values()]


async def probe(manifest: Manifest, config: GatewayConfig, base_dir: Path) -> MeshReport:
    """Start every enabled service as the gateway would, report on them, and stop them."""
    # One attempt each: a restart would only repeat the failure, and its stderr, in the report.
    once = {
        ns: spec.model_copy(update={"max_restarts": 0}) for ns, spec in manifest.mcp_servers.items()
    }
    mesh = Mesh(manifest.model_copy(update={"mcp_servers": once}), config, base_dir)
    report: MeshReport | None = None
    with _captured_logs() as logs:
        began = anyio.current_time()
        async with anyio.create_task_group() as tg:
            await tg.start(mesh.run)
            await mesh.started.wait()
            report = MeshReport(
                tuple(_service_report(s, logs.stderr[s.namespace]) for s in mesh.services.values()),
                tuple(_items(mesh.catalog)),
                tuple(logs.warnings),
                anyio.current_time() - began,
            )
            tg.cancel_scope.cancel()  # stops every service: stdin closed, SIGTERM, SIGKILL
    assert report is not None, "the task group raises whatever kept it from the report"
    return report


def _service_report(service: Service, stderr: deque[str]) -> ServiceReport:
    target = service_target(service.spec)
    if service.state == "disabled":
        return ServiceReport(service.namespace, target, "disabled")
    if service.state != "ready":
        error = service.error or "it stopped right after starting"
        return ServiceReport(service.namespace, target, "failed", error, stderr=tuple(stderr))
    session = service.session
    assert session is not None, "a ready service has a session"
    info = session.server_info
    server = " ".join(str(info[k]) for k in ("name", "version") if info.get(k)) or None
    counts = {kind: len(service.catalog.items(kind)) for kind in KINDS}
    return ServiceReport(
        service.namespace, target, "ready", protocol=session.version, server=server, counts=counts
    )


def _items(catalog: Catalog) -> Iterator[Item]:
    for kind in KINDS:
        for item in catalog.visible(kind, "(check)", _EVERYTHING):
            exposed = str(item.get(ITEM_KEYS[kind]))
            route = _route(catalog, kind, exposed)
            if route is None:
                continue
            description = str(item.get("description") or item.get("title") or "")
            yield Item(kind, exposed, route.namespace, route.subject, description)


def _route(catalog: Catalog, kind: str, exposed: str) -> Route | None:
    if kind == "tools":
        return catalog.tool(exposed)
    if kind == "prompts":
        return catalog.prompt(exposed)
    return catalog.resource(exposed)


@dataclass(slots=True)
class _Logs:
    stderr: defaultdict[str, deque[str]] = field(
        default_factory=lambda: defaultdict(lambda: deque(maxlen=STDERR_LINES))
    )
    warnings: list[str] = field(default_factory=list[str])


class _Collector(logging.Handler):
    def __init__(self, logs: _Logs) -> None:
        super().__init__(logging.INFO)
        self.logs = logs

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(SERVICE_LOGGER):
            self.logs.stderr[record.name.removeprefix(SERVICE_LOGGER)].append(record.getMessage())
        elif record.levelno >= logging.WARNING and record.name not in SHOWN_ELSEWHERE:
            self.logs.warnings.append(record.getMessage())


@contextmanager
def _captured_logs() -> Generator[_Logs]:
    """Collect the gateway's log while the services run, instead of printing it: the report
    shows what matters (a failed service's stderr, catalog clashes) where it belongs."""
    logs = _Logs()
    root = logging.getLogger("micro_mcp")
    handler = _Collector(logs)
    saved = root.level, root.propagate
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield logs
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        root.propagate = saved[1]


def service_target(spec: ServiceSpec) -> str:
    """How a service is reached, for people: its command line or its URL."""
    return spec.url if spec.url is not None else shlex.join([spec.command or "", *spec.args])
