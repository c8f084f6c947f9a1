"""How the CLI client reaches a gateway: by URL (one already running over HTTP) or by manifest
(a gateway started over stdio for the one command), with the caller's token; and what it says
when the gateway cannot be reached or refuses.

The client is the official SDK's `mcp.Client`, so the CLI talks to the gateway exactly as any
MCP client does.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO, cast
from urllib.parse import urlsplit

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED

from micro_mcp import codes
from micro_mcp.gateway.serve import TOKEN_ENV

DEFAULT_URL: Final = "http://127.0.0.1:8765/mcp"
"""Where `micro-mcp gateway --transport http` listens unless told otherwise."""
TIMEOUT: Final = 120.0
"""Seconds the CLI waits for one answer (a gateway started by `--discovery` starts its services
first)."""
LOG_TAIL: Final = 20
"""Lines of a gateway's stderr shown when the gateway it started did not answer."""


@dataclass(frozen=True, slots=True)
class Target:
    """A gateway to talk to: a URL, or a manifest (and config) to start one from."""

    url: str | None = None
    discovery: Path | None = None
    config: Path | None = None
    token: str | None = None
    profile: str | None = None
    """With `discovery`: the profile the started gateway serves (`--profile`)."""

    def describe(self) -> str:
        """The gateway as the user named it, for messages."""
        if self.url is not None:
            return self.url
        return f"the gateway started from {self.discovery}"


class Unreachable(Exception):
    """The gateway could not be reached, refused the caller, or stopped; the message says which
    and what to do. Raised and caught inside the CLI only."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every client command takes: where the gateway is, and the token."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        help=f"a running gateway's MCP endpoint (default: {DEFAULT_URL}; `/mcp` is added to a "
        "bare address)",
    )
    where.add_argument(
        "--discovery",
        metavar="FILE",
        help="start a gateway over stdio from this manifest for this one command",
    )
    parser.add_argument(
        "--config", metavar="FILE", help="with --discovery: the gateway config to start it with"
    )
    parser.add_argument(
        "--token", help=f"the caller's token (default: ${TOKEN_ENV}, unset: no token)"
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        help="a profile of the gateway: its endpoint /mcp/p/NAME, or with --discovery the "
        "gateway's --profile",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON result")


def target(args: argparse.Namespace) -> Target:
    """The gateway the parsed arguments name."""
    token = args.token or os.environ.get(TOKEN_ENV) or None
    profile: str | None = getattr(args, "profile", None)
    if args.discovery is not None:
        config = Path(args.config) if args.config else None
        return Target(discovery=Path(args.discovery), config=config, token=token, profile=profile)
    url = endpoint(args.url or DEFAULT_URL)
    if profile is not None:
        url = f"{url.rstrip('/')}/p/{profile}"
    return Target(url=url, token=token)


def endpoint(url: str) -> str:
    """`url` with the gateway's `/mcp` path when it names only a host and port."""
    return url.rstrip("/") + "/mcp" if urlsplit(url).path in ("", "/") else url


def run(target: Target, action: Callable[[Client], Awaitable[int]]) -> int:
    """Connect, run `action` with the client, and turn a failure to connect into a message on
    stderr; returns the exit code (1 when the gateway is unreachable or refused)."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as log:
        try:
            return anyio.run(_connected, target, action, log)
        except Unreachable as exc:
            print(f"micro-mcp: {exc}", file=sys.stderr)
            return 1


async def _connected(
    target: Target, action: Callable[[Client], Awaitable[int]], log: TextIO
) -> int:
    try:
        async with _client(target, log) as client:
            return await action(client)
    except BaseException as exc:  # sorted below: only failures to reach the gateway are kept
        reason = _reason(exc, target, log)
        if reason is None:
            raise
        raise Unreachable(reason) from exc


@asynccontextmanager
async def _client(target: Target, log: TextIO) -> AsyncGenerator[Client]:
    if target.url is not None:
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http,
            Client(
                streamable_http_client(target.url, http_client=http),
                read_timeout_seconds=TIMEOUT,
            ) as client,
        ):
            yield client
        return
    assert target.discovery is not None
    argv = ["-m", "micro_mcp", "gateway", "--discovery", str(target.discovery)]
    if target.config is not None:
        argv += ["--config", str(target.config)]
    if target.profile is not None:
        argv += ["--profile", target.profile]
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if target.token:
        env[TOKEN_ENV] = target.token
    params = StdioServerParameters(command=sys.executable, args=argv, env=env)
    async with Client(stdio_client(params, errlog=log), read_timeout_seconds=TIMEOUT) as client:
        yield client


def _reason(exc: BaseException, target: Target, log: TextIO) -> str | None:
    """What to tell the user about a failure, or None for one that is not about the gateway."""
    for leaf in _leaves(exc):
        if isinstance(leaf, MCPError) and leaf.error.code == CONNECTION_CLOSED:
            if target.url is None:
                return f"{target.describe()} stopped before it answered:\n{_tail(log)}"
            return f"{target.url} closed the connection"
        if isinstance(leaf, MCPError) and leaf.error.code == codes.UNAUTHENTICATED:
            return (
                f"{target.describe()} refused the token: {leaf.error.message} "
                f"(give the caller's token with --token or ${TOKEN_ENV})"
            )
        if isinstance(leaf, httpx2.HTTPStatusError):
            return f"{target.describe()} answered HTTP {leaf.response.status_code}"
        if isinstance(leaf, httpx2.TransportError | OSError) and target.url is not None:
            return (
                f"cannot reach a gateway at {target.url}: {leaf} (is it running? "
                "start one with `micro-mcp gateway --transport http`)"
            )
        if isinstance(leaf, anyio.EndOfStream | anyio.ClosedResourceError | OSError):
            return f"{target.describe()} stopped before it answered:\n{_tail(log)}"
    return None


def _leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) groups, each followed by those it was raised while
    handling: the SDK's auto mode meets a refusal of `server/discover` first, then falls back
    to `initialize`, whose failure is the one raised."""
    if isinstance(exc, BaseExceptionGroup):
        group = cast(BaseExceptionGroup[BaseException], exc)
        return [leaf for inner in group.exceptions for leaf in _leaves(inner)]
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    # The most telling first: a refused token anywhere in the chain explains the rest.
    return sorted(
        chain, key=lambda e: not (isinstance(e, MCPError) and e.error.code == codes.UNAUTHENTICATED)
    )


def _tail(log: TextIO) -> str:
    log.seek(0)
    lines = log.read().splitlines()
    return "\n".join(lines[-LOG_TAIL:]) or "(it wrote nothing on stderr)"
