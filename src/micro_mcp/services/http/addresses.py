"""Which IP addresses the http service may connect to.

Every address a host resolves to is checked here just before the connection is made to that
same address. Refused unless explicitly allowed: the IANA special-purpose ranges (loopback,
private, link-local and cloud metadata, CGNAT, multicast, reserved, documentation,
benchmarking, unspecified) and, for IPv6, everything outside global unicast `2000::/3`.
IPv6 forms that carry an IPv4 address are judged by that address: IPv4-mapped `::ffff:a.b.c.d`
is the IPv4 address itself, and NAT64 `64:ff9b::/96` and 6to4 `2002::/16` are refused when
the address they embed is. The table is explicit rather than `ipaddress.is_global`, whose
answers differ across Python releases and which calls public NAT64 addresses reserved.

Two things allow an address that the table refuses: a network given with `--allow-net`
(e.g. `10.1.2.0/24` for an intranet, `127.0.0.0/8` for local tests), and an IP literal on the
allowlist (e.g. `127.0.0.1`), which admits that address only when a URL spells it literally,
never when a name resolves to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import TypeAlias

from micro_mcp.services.http.host import IPAddress

IPNetwork: TypeAlias = IPv4Network | IPv6Network


def _table(rows: Iterable[tuple[str, str]]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ip_network(cidr), why) for cidr, why in rows)


_REFUSED_V4 = _table(
    [
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (CGNAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (and broadcast)"),
    ]
)
"""IPv4 special-purpose ranges (IANA registry, multicast and class E) never connected to."""

_REFUSED_V6 = _table(
    [
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ...)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ]
)
"""IPv6 special-purpose ranges named for a clear message; the rest of non-2000::/3 follows."""

_GLOBAL_UNICAST = IPv6Network("2000::/3")
_NAT64 = IPv6Network("64:ff9b::/96")
_LOW_32_BITS = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Refuses internal addresses, except networks and literals explicitly allowed."""

    networks: tuple[IPNetwork, ...] = ()
    literals: frozenset[IPAddress] = frozenset()

    def refusal(self, address: IPAddress, *, literal: bool = False) -> str | None:
        """Why connecting to `address` is refused, or None if it is allowed.

        `literal` says the URL spelled this address itself rather than naming a host that
        resolved to it; only then do allowlisted IP literals count.
        """
        if literal and address in self.literals:
            return None
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.networks):
            return None
        table = _REFUSED_V4 if isinstance(address, IPv4Address) else _REFUSED_V6
        for network, why in table:
            if address in network:
                return why
        if isinstance(address, IPv6Address):
            return self._refusal_v6(address)
        return None

    def _refusal_v6(self, address: IPv6Address) -> str | None:
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            why = self.refusal(embedded)
            return None if why is None else f"embeds {embedded}, which is {why}"
        if address not in _GLOBAL_UNICAST:
            return "not global unicast (outside 2000::/3)"
        return None


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address a NAT64 or 6to4 address leads to, if it is one."""
    if address in _NAT64:
        return IPv4Address(int(address) & _LOW_32_BITS)
    return address.sixtofour


def parse_network(text: str) -> IPNetwork:
    """Parse a CIDR network such as `10.1.2.0/24` or `fd00::/8` (a bare address is a /32 or /128).

    Raises:
        ValueError: `text` is not a network, or has host bits set.
    """
    return ip_network(text.strip())
