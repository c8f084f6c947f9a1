"""The domain allowlist of the http service.

An entry is an exact host (`example.com`, `127.0.0.1`, `[::1]`) or a wildcard `*.example.com`,
which matches every subdomain at any depth but not `example.com` itself. Ports are not part of
an entry: an allowed host is allowed on any port. Hosts and entries are compared in the same
normal form (lowercase ASCII, IDNA-encoded, one trailing dot dropped), produced by the URL
parser that also sends the request, so the two sides cannot disagree about spelling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx2

_FORBIDDEN_IN_ENTRY = frozenset("/@?#:\\ ")
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
                suffixes.add(_normalize_entry(entry[2:], raw))
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

    def allows(self, url: httpx2.URL) -> bool:
        """Whether the host of `url` is on the allowlist."""
        host = normalize_host(url)
        if not host:
            return False
        if host in self.exact:
            return True
        return any(host.endswith("." + suffix) for suffix in self.suffixes)


def normalize_host(url: httpx2.URL) -> str:
    """The host of `url` as lowercase ASCII without a trailing dot."""
    host = url.raw_host.decode("ascii").lower()
    return host.removesuffix(".")


def _normalize_entry(host: str, raw: str) -> str:
    bracketed = host.startswith("[") and host.endswith("]")
    if (not bracketed and _FORBIDDEN_IN_ENTRY & set(host)) or "*" in host:
        raise ValueError(f"allowlist entry {raw.strip()!r} is not a host or '*.domain' wildcard")
    try:
        normal = normalize_host(httpx2.URL(f"http://{host}/"))
    except (httpx2.InvalidURL, UnicodeError) as exc:
        raise ValueError(f"allowlist entry {raw.strip()!r} is not a valid host") from exc
    if not normal:
        raise ValueError(f"allowlist entry {raw.strip()!r} is not a valid host")
    return normal
