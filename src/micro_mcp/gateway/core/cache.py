"""The gateway's cache of `resources/read` results that services mark cacheable.

A 2026-07-28 service may answer a read with `ttlMs` (how long the result stays fresh) and
`cacheScope` (`public`: the same for every caller; `private`: for the caller that asked). With
a `cache` section in the config, the dispatcher keeps such results here, after policy and rate
limits have passed the request, and answers the same read from here while the result is fresh:
a `public` one for any principal allowed to read it, a `private` one for its principal only.
A client gets the time left as `ttlMs`.

Entries are the result as the client is sent it (URIs in their exposed form), encoded once, so
a hit is a decode and memory is counted in bytes. Bounded by entries and bytes (least recently
used first); a result over `maxEntryBytes` is passed on and not kept. An entry goes when its
service says the resource was updated, when its service's resource list changes, restarts or is
reloaded. A handshake-era service's hints are not trusted (as the SDK's client does), so only
2026-07-28 services' results are kept.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from micro_mcp.config.profiles import CacheSpec
from micro_mcp.errors import McpError
from micro_mcp.protocol.uris import normalize

PUBLIC: Final = "public"
_Key = tuple[str, str, str | None]
"""(namespace, the service's URI in normal form, principal for a `private` entry or None)."""


@dataclass(slots=True)
class _Entry:
    body: bytes
    expires: float
    """On the cache's clock (seconds)."""


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the cache holds and has done since start."""

    entries: int
    bytes: int
    hits: int
    misses: int


class ReadCache:
    """Fresh `resources/read` results by service, URI and (for `private` ones) principal."""

    def __init__(
        self,
        spec: CacheSpec,
        clock: Callable[[], float] = time.monotonic,
        on_lookup: Callable[[str, bool], None] | None = None,
    ) -> None:
        """`on_lookup(namespace, hit)` is told of every lookup (for metrics)."""
        self.spec = spec
        self._clock = clock
        self._on_lookup = on_lookup
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._by_uri: dict[tuple[str, str], set[_Key]] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, namespace: str, uri: str, principal: str) -> dict[str, Any] | None:
        """A fresh result for `principal`'s read of `uri` on `namespace` (its own `private`
        entry first, then a `public` one), with `ttlMs` the time it has left; else None."""
        now = self._clock()
        for key in ((namespace, uri, principal), (namespace, uri, None)):
            entry = self._entries.get(key)
            if entry is None:
                continue
            if entry.expires <= now:
                self._drop(key)
                continue
            self._entries.move_to_end(key)
            self._count(namespace, hit=True)
            result: dict[str, Any] = orjson.loads(entry.body)
            result["ttlMs"] = int((entry.expires - now) * 1000)
            return result
        self._count(namespace, hit=False)
        return None

    def put(self, namespace: str, uri: str, principal: str, result: dict[str, Any]) -> None:
        """Keep `result` if it says it may be kept: complete, `ttlMs` above 0, not too large."""
        ttl = result.get("ttlMs")
        if (
            not isinstance(ttl, int)
            or isinstance(ttl, bool)
            or ttl <= 0
            or result.get("resultType", "complete") != "complete"
        ):
            return
        body = orjson.dumps(result)
        if len(body) > self.spec.max_entry_bytes:
            return
        public = result.get("cacheScope") == PUBLIC
        key: _Key = (namespace, uri, None if public else principal)
        # One arm answers for a key: a scope that flipped must not leave the other serving.
        self._drop((namespace, uri, principal if public else None))
        self._drop(key)
        expires = self._clock() + min(ttl, self.spec.max_ttl_ms) / 1000
        self._entries[key] = _Entry(body, expires)
        self._by_uri.setdefault((namespace, uri), set()).add(key)
        self._bytes += len(body)
        while len(self._entries) > self.spec.max_entries or self._bytes > self.spec.max_bytes:
            self._drop(next(iter(self._entries)))

    def forget(self, namespace: str | None, uri: str | None = None) -> None:
        """Drop what a change makes stale: one URI of a service (in any spelling the service
        uses: it is put in normal form here), all of a service (`uri` None), or everything
        (`namespace` None)."""
        if uri is not None:
            with contextlib.suppress(McpError):  # a URI that escapes was never read through us
                uri = normalize(uri)
        if namespace is None:
            self._entries.clear()
            self._by_uri.clear()
            self._bytes = 0
        elif uri is not None:
            for key in list(self._by_uri.get((namespace, uri), ())):
                self._drop(key)
        else:
            for key in [k for k in self._entries if k[0] == namespace]:
                self._drop(key)

    def stats(self) -> CacheStats:
        """Entries and bytes held now; hits and misses since start."""
        return CacheStats(len(self._entries), self._bytes, self.hits, self.misses)

    def _drop(self, key: _Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._bytes -= len(entry.body)
        keys = self._by_uri.get(key[:2])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_uri[key[:2]]

    def _count(self, namespace: str, *, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        if self._on_lookup is not None:
            self._on_lookup(namespace, hit)
