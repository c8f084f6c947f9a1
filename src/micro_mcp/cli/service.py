"""`micro-mcp service NAME [ARGS...]`: run one of the example services, as `python -m` would.

A container image has one entry point, `micro-mcp`; this lets the same image run the gateway
and each example service in a container of its own (`micro-mcp service fs --http ...`). The
arguments after the name are the service's own, passed on unchanged.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from micro_mcp.services import EXAMPLES


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `micro-mcp service` to its subparser."""
    parser.add_argument("name", choices=EXAMPLES, help="which example service")
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        help="the service's own arguments, e.g. --http --host 0.0.0.0 --port 8000",
    )


def run(args: argparse.Namespace) -> int:
    """Run the named service until it stops; returns the exit code."""
    service_main(args.name)(list(args.args))
    return 0


def service_main(name: str) -> Callable[[Sequence[str]], None]:
    """The `main(argv)` of an example service, imported only when asked for (vector loads
    numpy, which the others do not need)."""
    module: Any
    match name:
        case "fs":
            from micro_mcp.services.fs import __main__ as module
        case "http":
            from micro_mcp.services.http import __main__ as module
        case "vector":
            from micro_mcp.services.vector import __main__ as module
        case _:
            raise ValueError(f"no example service {name!r}; one of {', '.join(EXAMPLES)}")
    main: Callable[[Sequence[str]], None] = module.main
    return main
