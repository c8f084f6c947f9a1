"""The `Store` protocol replicas share state through, and its in-memory implementation."""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, Protocol

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from micro_mcp.errors import StateUnavailable

logger = logging.getLogger(__name__)

MAX_ENTRIES: Final = 65_536
"""Entries a `MemoryStore` keeps at most by default; the expired, then the oldest go first."""
CHANNEL_BUFFER: Final = 256
"""Messages a `MemoryStore` subscriber may lag behind before further ones are dropped for it
(pub/sub delivers at most once, as Redis does to a slow subscriber it disconnects)."""


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

    async def touch(self, key: str, ttl: float) -> bool:
        """Give `key` a new lifetime of `ttl` seconds; False when it holds nothing."""
        ...

    async def refresh(self, key: str, ttl: float) -> bytes | None:
        """The value under `key`, given a new lifetime of `ttl` seconds; None when none."""
        ...

    async def delete(self, key: str) -> None:
        """Forget `key` (nothing happens when it holds nothing)."""
        ...

    async def publish(self, channel: str, message: bytes) -> int:
        """Send `message` to whoever subscribes to `channel` now (at most once, unstored);
        how many subscribers got it."""
        ...

    async def append(
        self, key: str, value: bytes, keep: int, ttl: float, channel: str | None = None
    ) -> None:
        """Add `value` to the end of the list under `key`, which keeps its last `keep` values
        and lives `ttl` seconds from now; and publish it on `channel` if given."""
        ...

    async def items(self, key: str) -> list[bytes]:
        """The values of the list under `key`, oldest first (none when there is no list)."""
        ...

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """The messages published on `channel` while the block runs, in order."""
        ...

    async def announce(self, group: str, member: str, value: bytes, ttl: float) -> dict[str, bytes]:
        """Set `member` of `group` to `value` for `ttl` seconds; every live member's value."""
        ...

    async def members(self, group: str) -> dict[str, bytes]:
        """Every live member of `group` and its value."""
        ...


class MemoryStore:
    """A `Store` in this process: bounded, expired entries dropped as it fills."""

    __slots__ = ("_channels", "_clock", "_entries", "_groups", "_lists", "_max")

    def __init__(
        self, max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[str, tuple[bytes, float]] = {}
        self._groups: dict[str, dict[str, tuple[bytes, float]]] = {}
        self._max = max_entries
        self._clock = clock
        self._channels: dict[str, set[MemoryObjectSendStream[bytes]]] = {}
        self._lists: dict[str, tuple[deque[bytes], float]] = {}

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

    async def touch(self, key: str, ttl: float) -> bool:
        """Give `key` a new lifetime of `ttl` seconds; False when it holds nothing."""
        value = await self.get(key)
        if value is None:
            return False
        self._entries[key] = (value, self._clock() + ttl)
        return True

    async def refresh(self, key: str, ttl: float) -> bytes | None:
        """The value under `key`, given a new lifetime of `ttl` seconds; None when none."""
        value = await self.get(key)
        if value is not None:
            self._entries[key] = (value, self._clock() + ttl)
        return value

    async def delete(self, key: str) -> None:
        """Forget `key` (nothing happens when it holds nothing)."""
        self._entries.pop(key, None)
        self._lists.pop(key, None)

    async def publish(self, channel: str, message: bytes) -> int:
        """Send `message` to whoever subscribes to `channel` now (at most once, unstored);
        how many subscribers got it."""
        got = 0
        for subscriber in list(self._channels.get(channel, ())):
            try:
                subscriber.send_nowait(message)
                got += 1
            except anyio.WouldBlock:
                logger.warning("a subscriber of %r lags; a message for it was dropped", channel)
        return got

    async def append(
        self, key: str, value: bytes, keep: int, ttl: float, channel: str | None = None
    ) -> None:
        """Add `value` to the end of the list under `key`, which keeps its last `keep` values
        and lives `ttl` seconds from now; and publish it on `channel` if given."""
        now = self._clock()
        if len(self._lists) >= self._max:  # the expired go, then the oldest
            for old in [k for k, (_, until) in self._lists.items() if until <= now]:
                del self._lists[old]
            for old in list(self._lists)[: max(0, len(self._lists) - self._max * 3 // 4)]:
                del self._lists[old]
        values = self._lists.pop(key, (deque[bytes](maxlen=keep), now))[0]
        if values.maxlen != keep:
            values = deque(values, maxlen=keep)
        values.append(value)
        self._lists[key] = (values, now + ttl)
        if channel is not None:
            await self.publish(channel, value)

    async def items(self, key: str) -> list[bytes]:
        """The values of the list under `key`, oldest first (none when there is no list)."""
        entry = self._lists.get(key)
        if entry is None or entry[1] <= self._clock():
            self._lists.pop(key, None)
            return []
        return list(entry[0])

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncGenerator[AsyncIterator[bytes]]:
        """The messages published on `channel` while the block runs, in order."""
        send, receive = anyio.create_memory_object_stream[bytes](CHANNEL_BUFFER)
        subscribers = self._channels.setdefault(channel, set())
        subscribers.add(send)
        try:
            with receive:
                yield receive
        finally:
            subscribers.discard(send)
            if not subscribers:
                del self._channels[channel]
            send.close()

    async def announce(self, group: str, member: str, value: bytes, ttl: float) -> dict[str, bytes]:
        """Set `member` of `group` to `value` for `ttl` seconds; every live member's value."""
        now = self._clock()
        self._groups.setdefault(group, {})[member] = (value, now + ttl)
        return await self.members(group)

    async def members(self, group: str) -> dict[str, bytes]:
        """Every live member of `group` and its value."""
        now = self._clock()
        members = self._groups.get(group, {})
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
