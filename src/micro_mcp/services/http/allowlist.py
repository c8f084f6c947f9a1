"""The domain allowlist of the http service.

An entry is an exact host (`example.com`, `127.0.0.1`, `[::1]`) or a wildcard `*.example.com`,
which matches every subdomain at any depth but not `example.com` itself. Ports are not part of
an entry: an allowed host is allowed on any port. Hosts and entries are compared in the same
normal form (lowercase ASCII, IDNA-encoded, one trailing dot dropped), produced by the URL
parser that also sends the request, so the two sides cannot disagree about spelling. Numeric
forms that are not canonical IP literals (`2130706433`, `127.1`) are not valid entries.

The allowlist says which *names* may be fetched; which *addresses* may be connected to is the
`AddressPolicy`'s call. An IP literal entry is also an explicit allowance of that address.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address

import httpx2

from micro_mcp.services.http.errors import FetchError
from micro_mcp.services.http.host import IPAddress, literal_address, normalize_host

_FORBIDDEN_IN_ENTRY = frozenset("/@?#:\\% ")
"""Characters that would make an entry more than a host (a path, credentials, a port)."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    """Hosts that may be fetched: exact names plus `*.` wildcard suffixes."""

    exact: frozenset[str]
    suffixes: frozenset[str]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Build an allowlist; blank entries are skipped.

        Raises:
            ValueError: An entry is not a host name, IP literal or `*.domain` wildcard.
        """
        exact: set[str] = set()
        suffixes: set[str] = set()
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            if entry.startswith("*."):
                suffix = _normalize_entry(entry[2:], raw)
                if literal_address(suffix) is not None:
                    raise ValueError(f"allowlist entry {entry!r}: a wildcard needs a domain")
                suffixes.add(suffix)
            else:
                exact.add(_normalize_entry(entry, raw))
        return cls(exact=frozenset(exact), suffixes=frozenset(suffixes))

    @classmethod
    def from_env(cls, value: str | None) -> Allowlist:
        """Parse the comma-separated `ALLOWLIST` format (`None` gives an empty allowlist).

        Raises:
            ValueError: As for `parse`.
        """
        return cls.parse((value or "").split(","))

    def __or__(self, other: Allowlist) -> Allowlist:
        """Admit what either allowlist admits."""
        return Allowlist(exact=self.exact | other.exact, suffixes=self.suffixes | other.suffixes)

    def __bool__(self) -> bool:
        """True if at least one host is allowed."""
        return bool(self.exact or self.suffixes)

    @property
    def literals(self) -> frozenset[IPAddress]:
        """The IP addresses written as exact entries."""
        found = (literal_address(host) for host in self.exact)
        return frozenset(address for address in found if address is not None)

    def allows(self, url: httpx2.URL) -> bool:
        """Whether the host of `url` is on the allowlist."""
        host = normalize_host(url)
        if not host:
            return False
        if host in self.exact:
            return True
        return any(host.endswith("." + suffix) for suffix in self.suffixes)


def _normalize_entry(host: str, raw: str) -> str:
    shown = raw.strip()
    try:
        host = f"[{IPv6Address(host)}]"  # a bare IPv6 address is taken as if bracketed
    except ValueError:
        bracketed = host.startswith("[") and host.endswith("]")
        if (not bracketed and _FORBIDDEN_IN_ENTRY & set(host)) or "*" in host:
            raise ValueError(
                f"allowlist entry {shown!r} is not a host or '*.domain' wildcard"
            ) from None
    try:
        normal = normalize_host(httpx2.URL(f"http://{host}/"))
        if not normal:
            raise ValueError(f"allowlist entry {shown!r} is not a valid host")
        literal_address(normal)
    except (httpx2.InvalidURL, UnicodeError) as exc:
        raise ValueError(f"allowlist entry {shown!r} is not a valid host") from exc
    except FetchError as exc:
        raise ValueError(f"allowlist entry {shown!r}: {exc}") from exc
    return normal
