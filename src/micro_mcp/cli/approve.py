"""`micro-mcp approve`: show what pinning holds back, as a diff, and approve it.

    micro-mcp approve --discovery mcp.json                 show every held definition
    micro-mcp approve --discovery mcp.json fs              approve what service fs has held
    micro-mcp approve --discovery mcp.json fs.listDir      approve one tool (or prompt)
    micro-mcp approve --discovery mcp.json --all           approve everything held

The store is the one the gateway uses with the same `--discovery` and `--config` (or `--store`):
with `state.redis` in the config, the pins every replica shares in Redis; otherwise a SQLite
file. The running gateways watch it: they see the approval within `reloadInterval` seconds (or
at once on SIGHUP, for the file), list the approved definition again and let calls reach it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import anyio
import anyio.to_thread

from micro_mcp.config.load import load_config
from micro_mcp.config.pinning import store_path
from micro_mcp.config.state import StateSpec
from micro_mcp.errors import ConfigError
from micro_mcp.registry.pin_store import PinStore, SqlitePinStore
from micro_mcp.registry.pins import Pin, diff
from micro_mcp.registry.redis_pins import RedisPinStore
from micro_mcp.state.redis_store import open_store


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
            return _review(SqlitePinStore(Path(args.store)), args, out)
        config = load_config(args.config)
        if config.state.redis is not None:  # the replicas' shared pins, not a file
            return anyio.run(_review_shared, config.state, args, out)
        manifest = Path(args.discovery) if args.discovery else None
        config_path = Path(args.config) if args.config else None
        return _review(SqlitePinStore(store_path(config.pinning, config_path, manifest)), args, out)
    except ConfigError as exc:
        print(f"micro-mcp: {exc}", file=sys.stderr)
        return 2


async def _review_shared(spec: StateSpec, args: argparse.Namespace, out: TextIO) -> int:
    """`_review` on the pins in the config's Redis (blocking calls: in a worker thread)."""
    async with open_store(spec) as shared:
        assert shared is not None  # spec.redis is set
        return await anyio.to_thread.run_sync(_review, RedisPinStore(shared), args, out)


def _review(store: PinStore, args: argparse.Namespace, out: TextIO) -> int:
    """Show what `store` holds and approve what `args` name.

    Raises:
        PinStoreError: the store is unusable.
    """
    where = store.describe()
    pins = store.load()
    held = sorted(pins.held.values(), key=lambda p: p.key)
    chosen = [p for p in held if _chosen(p, args.target, args.all)]
    for pin in chosen if (args.target or args.all) else held:
        _show(pin, pins.approved.get(pin.key), out)
    if not (args.target or args.all):
        print(
            f"{len(held)} definition(s) held in {where}"
            + ("; approve with SERVICE, SERVICE.NAME or --all" if held else ""),
            file=out,
        )
        return 0
    if not chosen:
        print(f"nothing held for {args.target or 'any service'} in {where}", file=out)
        return 1 if args.target else 0
    done = store.approve(p.key for p in chosen)
    print(f"approved {len(done)} definition(s) in {where}", file=out)
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
