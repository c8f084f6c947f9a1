"""`micro-mcp approve`: show what pinning holds back, as a diff, and approve it.

    micro-mcp approve --discovery mcp.json                 show every held definition
    micro-mcp approve --discovery mcp.json fs              approve what service fs has held
    micro-mcp approve --discovery mcp.json fs.listDir      approve one tool (or prompt)
    micro-mcp approve --discovery mcp.json --all           approve everything held

The store is the one the gateway uses with the same `--discovery` and `--config` (or `--store`).
The running gateway watches that file: it sees the approval within `reloadInterval` seconds (or at
once on SIGHUP), lists the approved definition again and lets calls reach it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from micro_mcp.config.load import load_config
from micro_mcp.config.pinning import store_path
from micro_mcp.errors import ConfigError
from micro_mcp.registry.pin_store import SqlitePinStore
from micro_mcp.registry.pins import Pin, diff


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `approve` arguments to `parser`."""
    parser.add_argument(
        "target",
        nargs="?",
        metavar="SERVICE[.NAME]",
        help="approve what this service (or this one tool or prompt of it) has held back",
    )
    parser.add_argument("--all", action="store_true", help="approve everything held back")
    parser.add_argument("--discovery", metavar="FILE", help="the gateway's manifest")
    parser.add_argument("--config", metavar="FILE", help="the gateway's config")
    parser.add_argument(
        "--pins",
        "--store",
        dest="store",
        metavar="FILE",
        help="the pin store itself, as the gateway's --pins (overrides both)",
    )


def run(args: argparse.Namespace, stdout: TextIO | None = None) -> int:
    """Run `micro-mcp approve`; returns the exit code (2: unusable files or store, 1: the
    target holds nothing)."""
    out: TextIO = stdout if stdout is not None else sys.stdout
    try:
        if args.store:
            path = Path(args.store)
        else:
            config = load_config(args.config)
            manifest = Path(args.discovery) if args.discovery else None
            config_path = Path(args.config) if args.config else None
            path = store_path(config.pinning, config_path, manifest)
        store = SqlitePinStore(path)
        pins = store.load()
        held = sorted(pins.held.values(), key=lambda p: p.key)
        chosen = [p for p in held if _chosen(p, args.target, args.all)]
        for pin in chosen if (args.target or args.all) else held:
            _show(pin, pins.approved.get(pin.key), out)
        if not (args.target or args.all):
            print(
                f"{len(held)} definition(s) held in {path}"
                + ("; approve with SERVICE, SERVICE.NAME or --all" if held else ""),
                file=out,
            )
            return 0
        if not chosen:
            print(f"nothing held for {args.target or 'any service'} in {path}", file=out)
            return 1 if args.target else 0
        done = store.approve(p.key for p in chosen)
    except ConfigError as exc:
        print(f"micro-mcp: {exc}", file=sys.stderr)
        return 2
    print(f"approved {len(done)} definition(s) in {path}", file=out)
    return 0


def _chosen(pin: Pin, target: str | None, everything: bool) -> bool:
    if everything or target is None:
        return everything
    namespace, dot, name = target.partition(".")
    return pin.namespace == namespace and (not dot or pin.name == name)


def _show(pin: Pin, approved: Pin | None, out: TextIO) -> None:
    change = "new" if approved is None else "changed"
    print(f"--- {pin.label} ({change}, sha256 {pin.digest[:12]})", file=out)
    print(diff(approved, pin), file=out, end="")
