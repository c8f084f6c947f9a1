"""Turning a host name into IP addresses: the system resolver, or a fixed table in front of it.

The connector asks a resolver exactly once per connection and connects to the very addresses
it got back, after checking them, so a DNS answer cannot change between check and use.
`StaticResolver` is curl's `--resolve`: it pins names to addresses (for a split-horizon name,
or for tests that must not depend on outside DNS); those addresses are checked like any other.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Protocol

import anyio

from micro_mcp.services.http.errors import FetchError
from micro_mcp.services.http.host import IPAddress


class Resolver(Protocol):
    """Looks up the addresses of a DNS name (never called for IP literals)."""

    async def resolve(self, host: str) -> Sequence[IPAddress]:
        """Every address of `host`, in the order to try them.

        Raises:
            FetchError: The name does not resolve.
        """
        ...


class SystemResolver:
    """The operating system's resolver (`getaddrinfo`: /etc/hosts, then DNS)."""

    async def resolve(self, host: str) -> Sequence[IPAddress]:
        """Every address `getaddrinfo` gives for `host`, duplicates dropped."""
        try:
            infos = await anyio.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise FetchError(f"host {host!r} does not resolve: {exc.strerror or exc}") from exc
        found: dict[IPAddress, None] = {}
        for _family, _type, _proto, _name, sockaddr in infos:
            # A scope id (`fe80::1%eth0`) is dropped: such addresses are refused anyway.
            found[ip_address(str(sockaddr[0]).split("%", 1)[0])] = None
        return list(found)


@dataclass(frozen=True, slots=True)
class StaticResolver:
    """Fixed addresses for some names; other names go to `fallback`, or fail without one."""

    table: Mapping[str, Sequence[IPAddress]]
    fallback: Resolver | None = field(default_factory=SystemResolver)

    async def resolve(self, host: str) -> Sequence[IPAddress]:
        """The pinned addresses of `host`, else the fallback's answer."""
        pinned = self.table.get(host)
        if pinned:
            return pinned
        if self.fallback is None:
            raise FetchError(f"host {host!r} does not resolve: not in the static table")
        return await self.fallback.resolve(host)
