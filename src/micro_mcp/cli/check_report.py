"""What `micro-mcp check` found, and its terminal report: services, catalog, policy decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from micro_mcp.policy.engine import evaluate
from micro_mcp.policy.model import Principal
from micro_mcp.policy.rules import Kind, RuleSet
from micro_mcp.registry.catalog import KINDS

TITLES: Final = {
    "tools": "Tools",
    "prompts": "Prompts",
    "resources": "Resources",
    "resourceTemplates": "Resource templates",
}
STATE_STYLES: Final = {"ready": "green", "failed": "bold red", "disabled": "dim"}
DESCRIPTION_WIDTH: Final = 60
"""Characters of a description shown; the first line only."""


@dataclass(frozen=True, slots=True)
class ServiceReport:
    """One service after its start: how it was launched, whether it came up, what it listed."""

    namespace: str
    target: str
    """The command line of a stdio service, or the URL of a remote one."""
    state: str
    """`ready`, `failed` or `disabled`."""
    error: str | None = None
    protocol: str | None = None
    server: str | None = None
    """The service's own name and version, from its handshake."""
    counts: dict[str, int] = field(default_factory=dict[str, int])
    """Items the service listed, by kind (before namespacing and clashes)."""
    stderr: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Item:
    """One item of the merged catalog, as the gateway exposes it."""

    kind: str
    exposed: str
    namespace: str
    subject: str
    """Canonical `namespace.name` (or `namespace.uri`): what policy patterns match."""
    description: str


@dataclass(frozen=True, slots=True)
class MeshReport:
    """What one start of the mesh showed."""

    services: tuple[ServiceReport, ...]
    items: tuple[Item, ...]
    warnings: tuple[str, ...]
    seconds: float
    """How long starting every service took."""

    @property
    def failed(self) -> tuple[ServiceReport, ...]:
        """The enabled services that did not come up."""
        return tuple(s for s in self.services if s.state == "failed")


def render(
    console: Console,
    title: str,
    report: MeshReport,
    principals: list[Principal] | None,
    *,
    open_gateway: bool = False,
    rules: RuleSet | None = None,
) -> None:
    """Print the whole report.

    `principals` None means a token was given that matches no principal; `open_gateway` that
    the config sets no token, so every client is `anonymous`. With `rules`, a decision is
    whether the item is listed: `allow` may still be refused a call whose arguments a rule's
    condition does not accept.
    """
    console.rule(Text(f"micro-mcp check: {title}"))
    console.print(_services(report.services))
    for service in report.failed:
        console.print(_failure(service))
    shown = principals or []
    for kind in KINDS:
        items = [item for item in report.items if item.kind == kind]
        if items:
            console.print(_catalog(TITLES[kind], items, shown, rules))
    if shown:
        console.print(_principals(shown))
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    if open_gateway:
        console.print(
            Text(
                "note: the config sets no token, so every client is 'anonymous' (over HTTP, "
                "the gateway then serves only on loopback)",
                style="yellow",
            )
        )
    problems: list[str] = []
    if principals is None:
        problems.append("the token matches no principal (every request would get -32011)")
    if report.failed:
        problems.append("did not start: " + ", ".join(s.namespace for s in report.failed))
    console.print(_summary(report, problems))


# Every cell is a Text, never a markup string: names, descriptions and command lines come from
# services and files, and "[...]" in them must print as written, not style the terminal.


def _services(services: tuple[ServiceReport, ...]) -> Table:
    table = Table(title="Services", title_justify="left")
    for column in ("service", "launch", "state", "protocol", "server"):
        table.add_column(column, overflow="fold")
    for short in ("tools", "prompts", "resources", "templates"):
        table.add_column(short, justify="right")
    for s in services:
        counts = [str(s.counts[kind]) if s.counts else "-" for kind in KINDS]
        table.add_row(
            Text(s.namespace),
            Text(s.target),
            Text(s.state, style=STATE_STYLES.get(s.state, "")),
            Text(s.protocol or "-"),
            Text(s.server or "-"),
            *counts,
        )
    return table


def _failure(service: ServiceReport) -> Panel:
    parts: list[Text] = [Text(service.error or "", style="red")]
    if service.stderr:
        parts.append(Text("\nits last stderr lines:", style="bold"))
        parts.append(Text("\n".join(service.stderr)))
    return Panel(
        Group(*parts),
        title=f"{service.namespace} did not start",
        border_style="red",
        title_align="left",
    )


def _catalog(
    title: str, items: list[Item], principals: list[Principal], rules: RuleSet | None
) -> Table:
    table = Table(title=f"{title} as the gateway exposes them", title_justify="left")
    table.add_column("name", overflow="fold")
    table.add_column("service")
    table.add_column("description", max_width=DESCRIPTION_WIDTH, no_wrap=True)
    for principal in principals:
        table.add_column(principal.name, justify="center")
    for item in items:
        decisions = [_decision(principal, item, rules) for principal in principals]
        description = item.description.strip().split("\n", 1)[0]
        table.add_row(Text(item.exposed), Text(item.namespace), Text(description), *decisions)
    return table


def _decision(principal: Principal, item: Item, rules: RuleSet | None) -> Text:
    kind: Kind = (
        "tools" if item.kind == "tools" else "prompts" if item.kind == "prompts" else "resources"
    )
    if evaluate(principal, item.subject, rules, kind).allowed:
        return Text("allow", style="green")
    return Text("deny", style="red")


def _principals(principals: list[Principal]) -> Table:
    table = Table(title="Policies", title_justify="left")
    table.add_column("principal")
    table.add_column("allow", overflow="fold")
    table.add_column("deny", overflow="fold")
    for principal in principals:
        policy = principal.policy
        allow, deny = ", ".join(policy.allow) or "-", ", ".join(policy.deny) or "-"
        table.add_row(Text(principal.name), Text(allow), Text(deny))
    return table


def _summary(report: MeshReport, problems: list[str]) -> Text:
    enabled = [s for s in report.services if s.state != "disabled"]
    up = len(enabled) - len(report.failed)
    counts = ", ".join(
        f"{TITLES[kind].lower()} {sum(1 for i in report.items if i.kind == kind)}" for kind in KINDS
    )
    line = f"{up} of {len(enabled)} services started in {report.seconds:.1f} s; exposed: {counts}"
    if problems:
        return Text(f"FAILED: {line}; {'; '.join(problems)}", style="bold red")
    return Text(f"OK: {line}", style="bold green")
