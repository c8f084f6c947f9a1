"""`micro-mcp status`: a running gateway's services as a table, read from `/admin/status`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

TOKEN_ENV: Final = "MICRO_MCP_OPERATOR_TOKEN"
"""Where `--token` is read from when not given (so it stays out of the shell history)."""
TIMEOUT: Final = 10.0
"""Seconds to wait for the gateway's answer."""
STATE_STYLES: Final = {
    "ready": "green",
    "starting": "yellow",
    "restarting": "yellow",
    "failed": "bold red",
    "stopped": "red",
    "disabled": "dim",
}
CIRCUIT_STYLES: Final = {"closed": "green", "half-open": "yellow", "open": "bold red"}


def add_parser(commands: Any) -> None:
    """Add the `status` subcommand to the command line's subparsers."""
    status: argparse.ArgumentParser = commands.add_parser(
        "status", help="show a running gateway's services: state, uptime, calls, errors"
    )
    status.add_argument(
        "--url",
        default="http://127.0.0.1:8765",
        help="the gateway's HTTP address (its --port, or --metrics-port with stdio)",
    )
    status.add_argument("--token", help=f"the operator token (default: ${TOKEN_ENV})")
    status.add_argument("--json", action="store_true", help="print the raw JSON instead")
    status.add_argument(
        "--watch", type=float, metavar="SECONDS", help="redraw every SECONDS until interrupted"
    )


def run(args: argparse.Namespace) -> int:
    """Fetch and show the status; returns the exit code (1: unreachable or refused)."""
    # Piped output gets a width that fits the table, not the 80 columns rich assumes.
    console = Console(width=None if sys.stdout.isatty() else 160)
    token = args.token or os.environ.get(TOKEN_ENV)
    url = args.url.rstrip("/") + "/admin/status"
    try:
        while True:
            try:
                status = fetch(url, token)
            except OSError as exc:
                print(f"micro-mcp status: {url}: {_reason(exc)}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(status, indent=2))
            else:
                if args.watch:
                    console.clear()
                console.print(render(status))
                for extra in (render_profiles(status), render_replicas(status)):
                    if extra is not None:
                        console.print(extra)
            if not args.watch:
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0


def fetch(url: str, token: str | None) -> dict[str, Any]:
    """The gateway's status document.

    Raises:
        OSError: the gateway cannot be reached or refused the request (`urllib.error` errors).
    """
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
        document = json.loads(reply.read())
    if not isinstance(document, dict):
        raise OSError("the answer is not a status document")
    return document  # pyright: ignore[reportUnknownVariableType]: checked to be an object


def _reason(exc: OSError) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        body = exc.read().decode("utf-8", "replace").strip()
        return f"HTTP {exc.code}: {body}" if body else f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc)


def render(status: dict[str, Any]) -> Table:
    """The status as a table: one row per service."""
    catalog = status.get("catalog", {})
    caption = (
        f"micro-mcp {status.get('version', '?')} over {status.get('transport', '?')}, "
        f"up {duration(status.get('uptime_seconds'))}, {status.get('clients', 0)} client(s); "
        f"{catalog.get('tools', 0)} tools, {catalog.get('prompts', 0)} prompts, "
        f"{resource_count(catalog)} resources"
    )
    table = Table(title=caption, title_justify="left")
    for header in ("service", "state", "uptime", "restarts", "circuit", "in flight", "queued"):
        table.add_column(
            header,
            justify="left" if header in ("service", "state", "circuit") else "right",
            no_wrap=True,
        )
    for header in ("tools", "prompts", "resources", "calls", "calls/s", "errors/s", "error %"):
        table.add_column(header, justify="right", no_wrap=True)
    for service in status.get("services", []):
        counts = service.get("catalog", {})
        calls_rate = float(service.get("calls_per_second", 0.0))
        errors_rate = float(service.get("errors_per_second", 0.0))
        share = 100 * errors_rate / calls_rate if calls_rate > 0 else 0.0
        state = str(service.get("state", "?"))
        circuit = str(service.get("circuit", "?"))
        table.add_row(
            str(service.get("namespace", "?")),
            Text(state, style=STATE_STYLES.get(state, "")),
            duration(service.get("uptime_seconds")),
            str(service.get("restarts", 0)),
            Text(circuit, style=CIRCUIT_STYLES.get(circuit, "")),
            f"{service.get('in_flight', 0)}/{service.get('max_concurrent', '?')}",
            str(service.get("queued", 0)),
            str(counts.get("tools", 0)),
            str(counts.get("prompts", 0)),
            str(resource_count(counts)),
            str(service.get("calls", 0)),
            f"{calls_rate:.2f}",
            f"{errors_rate:.2f}",
            Text(f"{share:.1f}", style="red" if share >= 5 else ""),
        )
        if service.get("error"):
            table.add_row("", Text(str(service["error"]), style="red"))
    return table


def render_profiles(status: dict[str, Any]) -> Table | None:
    """The profiles (virtual servers) as a table, and the cache of reads; None without them."""
    profiles: list[dict[str, Any]] = status.get("profiles") or []
    cache: dict[str, Any] | None = status.get("cache")
    if not profiles and not cache:
        return None
    caption = "profiles"
    if cache is not None:
        hits, misses = int(cache.get("hits", 0)), int(cache.get("misses", 0))
        rate = f"{100 * hits / (hits + misses):.0f}%" if hits + misses else "-"
        caption += (
            f"; cache: {cache.get('entries', 0)} entries, {cache.get('bytes', 0)} bytes, "
            f"{hits} hits, {misses} misses ({rate} hits)"
        )
    table = Table(title=caption, title_justify="left")
    for header in ("profile", "endpoint", "tools", "prompts", "resources", "description"):
        table.add_column(header, justify="right" if header in KIND_HEADERS else "left")
    for profile in profiles:
        counts = profile.get("catalog", {})
        table.add_row(
            str(profile.get("name", "?")),
            str(profile.get("endpoint", "")),
            str(counts.get("tools", 0)),
            str(counts.get("prompts", 0)),
            str(counts.get("resources", 0) + counts.get("resourceTemplates", 0)),
            str(profile.get("description", "")),
        )
    return table


def render_replicas(status: dict[str, Any]) -> Table | None:
    """The replicas sharing the store, with the config each runs; None without a store."""
    replicas: list[dict[str, Any]] = status.get("replicas") or []
    if not replicas:
        return None
    runs = {(r.get("config"), r.get("version")) for r in replicas}
    agreement = "they agree" if len(runs) == 1 else "they DISAGREE on config or version"
    table = Table(title=f"replicas: {len(replicas)}, {agreement}", title_justify="left")
    for header in ("replica", "config", "version"):
        table.add_column(header)
    for replica in replicas:
        name = str(replica.get("id", "?")) + (" (this one)" if replica.get("this") else "")
        table.add_row(name, str(replica.get("config", "?")), str(replica.get("version", "?")))
    return table


KIND_HEADERS: Final = frozenset({"tools", "prompts", "resources"})


def resource_count(counts: dict[str, Any]) -> int:
    """Resources and resource templates together, as the table's `resources` column counts
    them (a service that serves only templates still has resources to read)."""
    return int(counts.get("resources", 0)) + int(counts.get("resourceTemplates", 0))


def duration(seconds: object) -> str:
    """`1d 4h`, `2h 05m`, `3m 07s`, `12s`; `-` for none."""
    if not isinstance(seconds, int | float):
        return "-"
    total = int(seconds)
    days, hours, minutes = total // 86400, total % 86400 // 3600, total % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {total % 60:02d}s"
    return f"{total}s"
