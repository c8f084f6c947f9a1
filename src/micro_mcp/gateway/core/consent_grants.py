"""Where approvals and spent consent states are remembered: in this process (`MemoryGrants`,
bounded) or in a store the replicas of a deployment share (`StoreGrants`), so an approval given
through one replica is honoured by all and a sealed consent state is spent once across them."""

from __future__ import annotations

from typing import Final, Protocol

from micro_mcp.state.store import Store

MAX_GRANTS: Final = 65_536
"""Remembered approvals and spent nonces kept in memory at most; the oldest go first."""


class GrantStore(Protocol):
    """Remembered approvals and spent consent states; what replicas share (`StoreGrants`).

    Raises (every method):
        StateUnavailable: a shared store cannot be reached.
    """

    async def holds(self, key: str, now: float) -> bool:
        """Whether an approval under `key` stands at `now`."""
        ...

    async def put(self, key: str, until: float, now: float) -> None:
        """Remember an approval under `key` until `until`."""
        ...

    async def spend(self, nonce: str, until: float, now: float) -> bool:
        """Mark a consent state used; False if it already was."""
        ...


class MemoryGrants:
    """A `GrantStore` in this process: bounded, expired entries dropped as it fills."""

    __slots__ = ("_grants", "_spent")

    def __init__(self) -> None:
        self._grants: dict[str, float] = {}
        self._spent: dict[str, float] = {}

    async def holds(self, key: str, now: float) -> bool:
        """Whether an approval under `key` stands at `now`."""
        until = self._grants.get(key)
        return until is not None and until > now

    async def put(self, key: str, until: float, now: float) -> None:
        """Remember an approval under `key` until `until`."""
        _bounded(self._grants, now)
        self._grants.pop(key, None)  # re-inserted last: the oldest goes first when full
        self._grants[key] = until

    async def spend(self, nonce: str, until: float, now: float) -> bool:
        """Mark a consent state used; False if it already was."""
        if nonce in self._spent:
            return False
        _bounded(self._spent, now)
        self._spent[nonce] = until
        return True


class StoreGrants:
    """A `GrantStore` on a `Store` that replicas share: an approval given through one is
    remembered by all, and a consent state is spent once across them all (`SET NX`)."""

    __slots__ = ("_store",)

    def __init__(self, store: Store) -> None:
        self._store = store

    async def holds(self, key: str, now: float) -> bool:
        """Whether an approval under `key` stands at `now`."""
        until = await self._store.get(f"consent:grant:{key}")
        return until is not None and float(until) > now

    async def put(self, key: str, until: float, now: float) -> None:
        """Remember an approval under `key` until `until`."""
        await self._store.put(f"consent:grant:{key}", repr(until).encode(), until - now)

    async def spend(self, nonce: str, until: float, now: float) -> bool:
        """Mark a consent state used; False if it already was."""
        # Kept a little past its expiry, so the state is refused as expired, never replayed.
        return await self._store.add(f"consent:spent:{nonce}", b"1", until - now + 60)


def _bounded(entries: dict[str, float], now: float) -> None:
    """Make room when full: the expired go, then the oldest down to three quarters, so a full
    store is swept once per quarter of its size, not on every insertion."""
    if len(entries) < MAX_GRANTS:
        return
    for key in [k for k, until in entries.items() if until <= now]:
        del entries[key]
    for key in list(entries)[: max(0, len(entries) - MAX_GRANTS * 3 // 4)]:
        del entries[key]
