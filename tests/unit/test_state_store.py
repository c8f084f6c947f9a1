"""The in-memory `Store`: lifetimes, set-if-absent, its bound; and the secret replicas share."""

from __future__ import annotations

import pytest

from micro_mcp.errors import StateUnavailable
from micro_mcp.gateway.core.consent_grants import StoreGrants
from micro_mcp.state.store import MemoryStore, shared_secret

pytestmark = pytest.mark.anyio


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_value_lives_until_its_ttl() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.put("k", b"v", 10.0)
    clock.now = 9.9
    assert await store.get("k") == b"v"
    clock.now = 10.0
    assert await store.get("k") is None


async def test_a_value_without_ttl_stays() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.put("k", b"v", None)
    clock.now = 1e12
    assert await store.get("k") == b"v"


async def test_add_sets_only_an_absent_or_expired_key() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert await store.add("k", b"first", 5.0)
    assert not await store.add("k", b"second", 5.0)
    assert await store.get("k") == b"first"
    clock.now = 5.0
    assert await store.add("k", b"third", 5.0)
    assert await store.get("k") == b"third"


async def test_a_full_store_drops_the_expired_then_the_oldest() -> None:
    clock = Clock()
    store = MemoryStore(max_entries=8, clock=clock)
    for i in range(8):
        await store.put(f"k{i}", b"v", 5.0 if i in (2, 3) else 100.0)
    clock.now = 10.0
    await store.put("new", b"v", 100.0)  # full: 2 and 3, expired, go; 6 are left, enough room
    kept = [i for i in range(8) if await store.get(f"k{i}") is not None]
    assert kept == [0, 1, 4, 5, 6, 7]
    await store.put("newer", b"v", 100.0)  # 8 now
    await store.put("newest", b"v", 100.0)  # full of live ones: the oldest go, down to 6
    kept = [i for i in range(8) if await store.get(f"k{i}") is not None]
    assert kept == [4, 5, 6, 7]
    assert {await store.get(k) for k in ("new", "newer", "newest")} == {b"v"}


async def test_every_holder_of_the_store_gets_the_same_secret() -> None:
    store = MemoryStore()
    first = await shared_secret(store, "s", 32)
    second = await shared_secret(store, "s", 32)
    assert first == second and len(first) == 32
    assert await shared_secret(MemoryStore(), "s", 32) != first  # another deployment


async def test_a_secret_too_short_in_the_store_is_refused() -> None:
    store = MemoryStore()
    await store.put("s", b"short", None)
    with pytest.raises(StateUnavailable):
        await shared_secret(store, "s", 32)


async def test_grants_on_a_store_are_seen_by_every_holder_and_a_nonce_is_spent_once() -> None:
    store = MemoryStore()
    a, b = StoreGrants(store), StoreGrants(store)
    await a.put("k", until=time_plus(600), now=time_plus(0))
    assert await b.holds("k", time_plus(1))
    assert not await b.holds("k", time_plus(600))
    assert await a.spend("n", until=time_plus(300), now=time_plus(0))
    assert not await b.spend("n", until=time_plus(300), now=time_plus(1))


def time_plus(seconds: float) -> float:
    """A fixed Unix time plus `seconds` (grants compare Unix times; lifetimes are relative)."""
    return 1_800_000_000.0 + seconds
