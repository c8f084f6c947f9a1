"""What a URL's host is: an IP literal in its one canonical spelling, or a DNS name.

`inet_aton` and therefore `getaddrinfo` read `2130706433`, `0x7f.1`, `017700000001` and `127.1`
as 127.0.0.1, so a host that looks like a name to the allowlist could reach loopback. Such
hosts are refused outright: a host whose last label is a number (the WHATWG URL rule for "this
is IPv4") must be a canonical dotted quad, and any other host must be a plain DNS name made
of letters, digits, `-` and `_`. Percent signs, empty labels and IPv6 zone ids never pass.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import TypeAlias

import httpx2

from micro_mcp.services.http.errors import FetchError

IPAddress: TypeAlias = IPv4Address | IPv6Address

_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
"""One DNS label, already lowercase ASCII (IDNA labels are in their `xn--` form)."""

_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
"""A label the WHATWG URL parser reads as a number: decimal, octal (leading 0) or hex."""

_MAX_NAME = 253
"""Longest DNS name in its dotted text form, without the trailing dot."""


def normalize_host(url: httpx2.URL) -> str:
    """The host of `url` as lowercase ASCII (IDNA-encoded) without one trailing dot.

    An IPv6 literal is given in its compressed form, so `[0:0::1]` and `[::1]` compare equal.
    """
    host = url.raw_host.decode("ascii").lower().removesuffix(".")
    if ":" in host:
        try:
            return str(IPv6Address(host))
        except ValueError:
            return host  # literal_address reports it
    return host


def literal_address(host: str) -> IPAddress | None:
    """The IP address a normalized host spells, or None if it is a DNS name.

    Raises:
        FetchError: The host is a numeric form other than a canonical IP literal, or not a
            valid DNS name.
    """
    if ":" in host:
        try:
            if "%" in host:  # a zone id (`fe80::1%eth0`) picks an interface; never needed
                raise ValueError(host)
            return IPv6Address(host)
        except ValueError:
            raise FetchError(f"host {host!r} is not a valid IPv6 address") from None
    labels = host.split(".")
    if _NUMBER.fullmatch(labels[-1]):
        try:
            address = ip_address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise FetchError(
                f"host {host!r} is a numeric form that is not a canonical IPv4 address"
                " (decimal, octal, hex and shortened forms are refused)"
            )
        return address
    if len(host) > _MAX_NAME or not all(_LABEL.fullmatch(label) for label in labels):
        raise FetchError(f"host {host!r} is not a valid DNS name")
    return None
