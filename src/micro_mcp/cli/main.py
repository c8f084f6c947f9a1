"""`micro-mcp`: parse the command line, load the files, hand over to the gateway."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio

from micro_mcp.cli import add, check, deploy, scaffold, service, status, token
from micro_mcp.config.load import load_config, load_manifest
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.serve import serve
from micro_mcp.telemetry import logs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="micro-mcp", description=__doc__)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    args = _parser().parse_args(argv)
    if args.command == "status":
        return status.run(args)
    if args.command == "new":
        return scaffold.run(args)
    if args.command == "check":
        return check.run(args)
    if args.command == "service":
        return service.run(args)
    if args.command == "deploy":
        return deploy.run(args)
    if args.command == "add":
        return add.run(args)
    if args.command == "token":
        return token.run(args)
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
