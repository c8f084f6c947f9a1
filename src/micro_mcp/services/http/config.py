"""Command-line and environment settings of the http server."""

from __future__ import annotations

import argparse
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import ip_address

from micro_mcp.services.http.addresses import IPNetwork, parse_network
from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.fetcher import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_TIMEOUT,
    FetchSettings,
)
from micro_mcp.services.http.host import IPAddress
from micro_mcp.services.http.resolver import Resolver, StaticResolver, SystemResolver

DEFAULT_PORT = 8002
"""Port for `--http` when `--port` is not given."""


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """How to run the http server."""

    settings: FetchSettings
    http: bool
    host: str
    port: int


def parse_config(argv: Sequence[str], environ: Mapping[str, str]) -> HttpConfig:
    """Parse `argv` (without the program name); the allowlist is `ALLOWLIST` plus `--allow`s."""
    parser = argparse.ArgumentParser(
        prog="python -m micro_mcp.services.http",
        description="MCP server fetching text from allowlisted http(s) hosts.",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="HOST",
        help="allow HOST (exact) or *.DOMAIN (subdomains only); repeatable; adds to $ALLOWLIST",
    )
    parser.add_argument(
        "--allow-net",
        action="append",
        default=[],
        type=_network,
        metavar="CIDR",
        help="connect to this internal network too (e.g. 10.1.2.0/24); by default loopback, "
        "private, link-local, CGNAT, multicast and reserved addresses are refused; repeatable",
    )
    parser.add_argument(
        "--resolve",
        action="append",
        default=[],
        type=_pin,
        metavar="HOST=ADDRESS",
        help="resolve HOST to ADDRESS instead of asking DNS (the address is still checked); "
        "repeatable, also to give one host several addresses",
    )
    parser.add_argument(
        "--ca-file",
        metavar="PEM",
        help="trust these CA certificates for https instead of the system's",
    )
    parser.add_argument(
        "--max-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BYTES,
        help=f"body bytes read per fetch before cutting (default: {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds per fetch, redirects included (default: {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--max-redirects",
        type=_non_negative_int,
        default=DEFAULT_MAX_REDIRECTS,
        help=f"redirect hops followed, each re-checked (default: {DEFAULT_MAX_REDIRECTS})",
    )
    parser.add_argument(
        "--http", action="store_true", help="serve Streamable HTTP at /mcp instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP bind address")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP port")
    args = parser.parse_args(list(argv))
    try:
        allowlist = Allowlist.from_env(environ.get("ALLOWLIST")) | Allowlist.parse(args.allow)
    except ValueError as exc:
        parser.error(str(exc))
    ssl_context = None
    if args.ca_file is not None:
        try:
            ssl_context = ssl.create_default_context(cafile=args.ca_file)
        except (OSError, ssl.SSLError) as exc:
            parser.error(f"--ca-file {args.ca_file}: {exc}")
    networks: list[IPNetwork] = args.allow_net
    pins: list[tuple[str, IPAddress]] = args.resolve
    settings = FetchSettings(
        allowlist=allowlist,
        networks=tuple(networks),
        resolver=_resolver(pins),
        max_bytes=args.max_bytes,
        timeout=args.timeout,
        max_redirects=args.max_redirects,
        ssl_context=ssl_context,
    )
    return HttpConfig(settings=settings, http=args.http, host=args.host, port=args.port)


def _resolver(pins: Sequence[tuple[str, IPAddress]]) -> Resolver:
    if not pins:
        return SystemResolver()
    table: dict[str, list[IPAddress]] = {}
    for host, address in pins:
        table.setdefault(host, []).append(address)
    return StaticResolver({host: tuple(addresses) for host, addresses in table.items()})


def _network(text: str) -> IPNetwork:
    try:
        return parse_network(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _pin(text: str) -> tuple[str, IPAddress]:
    host, sep, address = text.partition("=")
    try:
        allowlisted = Allowlist.parse([host])
        [name] = allowlisted.exact
        if not sep:
            raise ValueError("expected HOST=ADDRESS")
        return name, ip_address(address.strip().strip("[]"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value
