"""`micro-mcp config check | docs | schema`: validate a manifest or a gateway config without
starting anything, and write the configuration reference and the JSON Schemas."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from micro_mcp.config import reference
from micro_mcp.config.load import load_config, load_manifest, read_document
from micro_mcp.config.model import Manifest
from micro_mcp.config.references import references, resolve_service
from micro_mcp.errors import ConfigError, UnresolvedReference


def add_parser(commands: Any) -> None:
    """Add `config` and its subcommands to the command line's subparsers."""
    config: argparse.ArgumentParser = commands.add_parser(
        "config", help="check a manifest or gateway config; write its reference and JSON Schema"
    )
    actions = config.add_subparsers(dest="action", required=True)
    check = actions.add_parser(
        "check", help="validate a file without starting anything (exit 2 if invalid)"
    )
    check.add_argument("file", help="a manifest or a gateway config: JSON, YAML or TOML")
    check.add_argument(
        "--kind",
        choices=sorted(reference.SCHEMAS),
        help="what the file is; default: a manifest if it has mcpServers, else a gateway config",
    )
    docs = actions.add_parser("docs", help="write the configuration reference (Markdown)")
    docs.add_argument("--output", metavar="FILE", help="default: stdout")
    schema = actions.add_parser("schema", help="write the JSON Schema of a file kind")
    schema.add_argument("kind", choices=sorted(reference.SCHEMAS))
    schema.add_argument("--output", metavar="FILE", help="default: stdout")


def run(args: argparse.Namespace) -> int:
    """Run a `config` subcommand; returns the exit code."""
    if args.action == "docs":
        return _write(reference.render(), args.output)
    if args.action == "schema":
        return _write(reference.schema(args.kind), args.output)
    return _check(Path(args.file), args.kind)


def _check(file: Path, kind: str | None) -> int:
    try:
        kind = kind or _guess(file)
        if kind == "manifest":
            manifest, base_dir = load_manifest(file)
            services = manifest.mcp_servers
            enabled = [ns for ns, spec in services.items() if not spec.disabled]
            print(
                f"{file}: a valid manifest: {len(services)} services "
                f"({len(enabled)} enabled: {', '.join(enabled) or 'none'})"
            )
            _check_references(manifest, base_dir)
        else:
            config = load_config(file)
            principals = len(config.principals) + (config.token is not None)
            print(f"{file}: a valid gateway config: {principals} principal(s) with a token")
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def _check_references(manifest: Manifest, base_dir: Path) -> None:
    """Say how many `${env:...}` / `${file:...}` references the enabled services hold and
    warn about each service whose references do not resolve here (they may where the gateway
    runs); never print a value."""
    count = 0
    for namespace, spec in manifest.mcp_servers.items():
        if spec.disabled:
            continue
        secret = spec.auth.client_secret if spec.auth is not None else None
        values = [*spec.env.values(), *spec.headers.values(), *([secret] if secret else [])]
        count += sum(len(references(value)) for value in values)
        try:
            resolve_service(
                namespace,
                spec.env,
                spec.headers,
                environ=os.environ,
                base_dir=base_dir,
                client_secret=secret,
            )
        except UnresolvedReference as exc:
            print(f"warning: {exc} (here; the gateway resolves it where it runs)", file=sys.stderr)
    if count:
        print(f"{count} credential reference(s); values are never shown")


def _guess(file: Path) -> str:
    """`manifest` when the file's top level has `mcpServers`, else `gateway`; a file that does
    not parse is left to the loader, which says why."""
    try:
        data = read_document(file)
    except ConfigError:
        return "manifest"
    return "manifest" if isinstance(data, dict) and "mcpServers" in data else "gateway"


def _write(text: str, output: str | None) -> int:
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
    return 0
