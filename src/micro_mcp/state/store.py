"""The `Store` protocol replicas share state through, and its in-memory implementation."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Final, Protocol

from micro_mcp.errors import StateUnavailable

MAX_ENTRIES: Final = 65_536
"""Entries a `MemoryStore` keeps at most by default; the expired, then the oldest go first."""


class Store(Protocol):
    """Bytes under string keys, each with a lifetime; what every replica sees alike.

    Raises (every method):
        StateUnavailable: the store cannot be reached or failed (never `MemoryStore`).
    """

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None when there is none (or it expired)."""
        ...

    async def put(self, key: str, value: bytes, ttl: float | None) -> None:
        """Set `key` to `value` for `ttl` seconds (None: until it is overwritten)."""
        ...

    async def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Set `key` only if it holds nothing; False (and nothing changed) if it did."""
        ...

    async def announce(self, group: str, member: str, value: bytes, ttl: float) -> dict[str, bytes]:
        """Set `member` of `group` to `value` for `ttl` seconds; every live member's value."""
        ...


class MemoryStore:
    """A `Store` in this process: bounded, expired entries dropped as it fills."""

    __slots__ = ("_clock", "_entries", "_groups", "_max")

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[str, tuple[bytes, float]] = {}
        self._groups: dict[str, dict[str, tuple[bytes, float]]] = {}
        self._max = max_entries
        self._clock = clock

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None when there is none (or it expired)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry[0]

    async def put(self, key: str, value: bytes, ttl: float | None) -> None:
        """Set `key` to `value` for `ttl` seconds (None: until it is overwritten)."""
        now = self._clock()
        self._make_room(now)
        self._entries.pop(key, None)  # re-inserted last: the oldest goes first when full
        self._entries[key] = (value, now + ttl if ttl is not None else float("inf"))

    async def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Set `key` only if it holds nothing; False (and nothing changed) if it did."""
        if await self.get(key) is not None:
            return False
        await self.put(key, value, ttl)
        return True

    async def announce(self, group: str, member: str, value: bytes, ttl: float) -> dict[str, bytes]:
        """Set `member` of `group` to `value` for `ttl` seconds; every live member's value."""
        now = self._clock()
        members = self._groups.setdefault(group, {})
        members[member] = (value, now + ttl)
        for gone in [name for name, (_, until) in members.items() if until <= now]:
            del members[gone]
        return {name: value for name, (value, _) in members.items()}

    def _make_room(self, now: float) -> None:
        """When full: the expired go, then the oldest down to three quarters, so a full store
        is swept once per quarter of its size, not on every insertion."""
        if len(self._entries) < self._max:
            return
        for key in [k for k, (_, until) in self._entries.items() if until <= now]:
            del self._entries[key]
        for key in list(self._entries)[: max(0, len(self._entries) - self._max * 3 // 4)]:
            del self._entries[key]


async def shared_secret(store: Store, key: str, size: int) -> bytes:
    """A random secret of `size` bytes under `key`, the same for everyone on `store`: the first
    to ask generates and keeps it (without expiry), the others read that one.

    Raises:
        StateUnavailable: the store cannot be reached.
    """
    await store.add(key, secrets.token_bytes(size), None)
    secret = await store.get(key)
    if secret is None or len(secret) < size:  # deleted in between, or set by someone else
        raise StateUnavailable(f"the shared secret {key!r} in the state store is unusable")
    return secret
