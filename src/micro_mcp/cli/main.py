"""`micro-mcp`: parse the command line, load the files, hand over to the gateway."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import anyio

from micro_mcp.cli import (
    add,
    approve,
    audit,
    check,
    client,
    config_files,
    deploy,
    scaffold,
    service,
    status,
    token,
)
from micro_mcp.config.load import load_config, load_manifest
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.serve import serve
from micro_mcp.telemetry import logs

DESCRIPTION = """\
One MCP endpoint over many small MCP servers: the gateway starts the services of a manifest,
merges their tools, resources and prompts under namespaces, checks tokens and policy, and
audits every call."""
EPILOG = """\
examples:
  micro-mcp gateway                                 the example services, MCP on stdio
  micro-mcp gateway --discovery my-services.json --transport http --port 8765
  micro-mcp check --discovery my-services.json     start each service once, show the catalog
  micro-mcp new weather --lang python               a service project from a template
  micro-mcp config check gateway.json               validate a file (docs/CONFIG.md: every key)
  micro-mcp status --url http://127.0.0.1:8765      a running gateway's services
  micro-mcp tools --url http://127.0.0.1:8765       its tools (token: $MICRO_MCP_TOKEN or --token)
  micro-mcp call fs.listDir '{"path": "."}' --discovery my-services.json

Run `micro-mcp COMMAND --help` for a command's options."""


CLIENT_COMMANDS = frozenset({"tools", "call", "read", "prompts", "resources"})
"""Commands that talk to a gateway as an MCP client (`cli/client.py`)."""


def _version() -> str:
    try:
        return metadata.version("micro-mcp")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="micro-mcp",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"micro-mcp {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    gateway = commands.add_parser(
        "gateway", help="serve the services of a manifest as one MCP server"
    )
    gateway.add_argument(
        "--discovery",
        metavar="FILE",
        help="the manifest (JSON, YAML or TOML); default: the example services",
    )
    gateway.add_argument(
        "--config", metavar="FILE", help="the gateway config: token, policy, audit"
    )
    gateway.add_argument(
        "--pins",
        metavar="FILE",
        help="the pin store (SQLite); default: the config's pinning.store, else next to the "
        "manifest",
    )
    gateway.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    gateway.add_argument("--host", default="127.0.0.1", help="with --transport http")
    gateway.add_argument("--port", type=int, default=8765, help="with --transport http")
    gateway.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    gateway.add_argument("--log-format", choices=["text", "json"], help="default: the config's")
    gateway.add_argument(
        "--metrics-port", type=int, help="with stdio: serve /metrics and /admin on 127.0.0.1"
    )
    gateway.add_argument(
        "--profile",
        metavar="NAME",
        help="with stdio: serve only this profile of the config (over HTTP: /mcp/p/NAME)",
    )
    status.add_parser(commands)
    client.add_parsers(commands)
    config_files.add_parser(commands)
    scaffold.configure(commands.add_parser("new", help="create a service project from a template"))
    check.configure(
        commands.add_parser(
            "check", help="start a manifest's services once; show what the gateway would expose"
        )
    )
    service.configure(
        commands.add_parser(
            "service", help="run an example service (fs, http, vector), as in a container"
        )
    )
    deploy.configure(
        commands.add_parser(
            "deploy", help="render Kubernetes manifests; write a config with fresh tokens"
        )
    )
    add.configure(
        commands.add_parser("add", help="add a server from the official MCP Registry to a manifest")
    )
    token.configure(commands.add_parser("token", help="make a static token, or hash one"))
    approve.configure(
        commands.add_parser(
            "approve", help="show tool definitions pinning holds back (a diff), and approve them"
        )
    )
    audit.configure(commands.add_parser("audit", help="check the audit trail (verify)"))
    return parser


RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "status": status.run,
    "new": scaffold.run,
    "check": check.run,
    "service": service.run,
    "deploy": deploy.run,
    "add": add.run,
    "token": token.run,
    "approve": approve.run,
    "audit": audit.run,
    "config": config_files.run,
}
"""The commands other than `gateway` and the client commands, by name."""


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    runner = RUNNERS.get(args.command)
    if runner is not None:
        return runner(args)
    if args.command in CLIENT_COMMANDS:
        return client.run(args)
    logs.configure(args.log_level, args.log_format or "text")
    try:
        manifest, base_dir = load_manifest(args.discovery)
        config = load_config(args.config)
        if args.log_format is None and config.telemetry.log_format != "text":
            logs.configure(args.log_level, config.telemetry.log_format)
        anyio.run(
            lambda: serve(
                manifest,
                base_dir,
                config,
                transport=args.transport,
                host=args.host,
                port=args.port,
                manifest_path=Path(args.discovery) if args.discovery else None,
                config_path=Path(args.config) if args.config else None,
                metrics_port=args.metrics_port,
                profile=args.profile,
                pins_path=Path(args.pins) if args.pins else None,
            )
        )
    except ConfigError as exc:
        print(f"micro-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
