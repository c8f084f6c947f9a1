"""The cache of reads: freshness by `ttlMs` on an injected clock, `private` results per
principal, `public` ones shared, bounded by entries and bytes, dropped on changes."""

from __future__ import annotations

from typing import Any

import pytest

from micro_mcp.config.profiles import CacheSpec
from micro_mcp.gateway.core.cache import ReadCache


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _result(text: str, ttl: Any = 60_000, scope: str | None = "public") -> dict[str, Any]:
    result: dict[str, Any] = {"contents": [{"uri": "fs+file:///a", "text": text}], "ttlMs": ttl}
    if scope is not None:
        result["cacheScope"] = scope
    return result


def _cache(clock: Clock, **spec: int) -> tuple[ReadCache, list[tuple[str, bool]]]:
    lookups: list[tuple[str, bool]] = []
    cache = ReadCache(
        CacheSpec.model_validate(spec),
        clock=clock,
        on_lookup=lambda ns, hit: lookups.append((ns, hit)),
    )
    return cache, lookups


def test_a_result_is_served_while_fresh_with_the_time_it_has_left() -> None:
    clock = Clock()
    cache, lookups = _cache(clock)
    assert cache.get("fs", "file:///a", "alice") is None
    cache.put("fs", "file:///a", "alice", _result("A", ttl=10_000))
    clock.now += 4
    hit = cache.get("fs", "file:///a", "alice")
    assert hit is not None
    assert hit["contents"][0]["text"] == "A"
    assert (hit["ttlMs"], hit["cacheScope"]) == (6000, "public")
    clock.now += 6
    assert cache.get("fs", "file:///a", "alice") is None
    assert lookups == [("fs", False), ("fs", True), ("fs", False)]
    assert cache.stats().entries == 0, "an expired entry is dropped when found"


def test_a_hit_is_a_copy_the_caller_may_change() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("A"))
    first = cache.get("fs", "file:///a", "alice")
    assert first is not None
    first["contents"][0]["text"] = "changed"
    second = cache.get("fs", "file:///a", "alice")
    assert second is not None and second["contents"][0]["text"] == "A"


def test_a_private_result_is_served_to_its_principal_only() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("alice's", scope="private"))
    assert cache.get("fs", "file:///a", "bob") is None
    hit = cache.get("fs", "file:///a", "alice")
    assert hit is not None and hit["contents"][0]["text"] == "alice's"


def test_a_result_without_a_scope_is_private() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("A", scope=None))
    assert cache.get("fs", "file:///a", "bob") is None
    assert cache.get("fs", "file:///a", "alice") is not None


def test_a_public_result_is_served_to_every_principal() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("shared"))
    hit = cache.get("fs", "file:///a", "bob")
    assert hit is not None and hit["contents"][0]["text"] == "shared"


def test_a_scope_that_flips_leaves_one_entry_answering() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("private", scope="private"))
    cache.put("fs", "file:///a", "alice", _result("public"))
    hit = cache.get("fs", "file:///a", "alice")
    assert hit is not None and hit["contents"][0]["text"] == "public"
    assert cache.stats().entries == 1
    cache.put("fs", "file:///a", "alice", _result("private again", scope="private"))
    assert cache.get("fs", "file:///a", "bob") is None


@pytest.mark.parametrize(
    "result",
    [
        _result("A", ttl=0),
        _result("A", ttl=-5),
        _result("A", ttl=True),
        _result("A", ttl="60000"),
        {"contents": [], "cacheScope": "public"},
        {**_result("A"), "resultType": "input_required"},
    ],
)
def test_a_result_not_marked_cacheable_is_not_kept(result: dict[str, Any]) -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", result)
    assert cache.stats().entries == 0


def test_a_ttl_past_the_limit_is_cut_to_it() -> None:
    clock = Clock()
    cache, _ = _cache(clock, maxTtlMs=1000)
    cache.put("fs", "file:///a", "alice", _result("A", ttl=10**9))
    clock.now += 1
    assert cache.get("fs", "file:///a", "alice") is None


def test_the_least_recently_used_goes_first_past_max_entries() -> None:
    cache, _ = _cache(Clock(), maxEntries=2)
    cache.put("fs", "file:///a", "p", _result("A"))
    cache.put("fs", "file:///b", "p", _result("B"))
    assert cache.get("fs", "file:///a", "p") is not None  # a is now the most recent
    cache.put("fs", "file:///c", "p", _result("C"))
    assert cache.get("fs", "file:///b", "p") is None
    assert cache.get("fs", "file:///a", "p") is not None
    assert cache.get("fs", "file:///c", "p") is not None


def test_memory_is_bounded_in_bytes_and_a_large_result_is_not_kept() -> None:
    cache, _ = _cache(Clock(), maxBytes=4096, maxEntryBytes=2048)
    cache.put("fs", "file:///big", "p", _result("x" * 3000))
    assert cache.stats().entries == 0
    for index in range(10):
        cache.put("fs", f"file:///{index}", "p", _result("y" * 1000))
    stats = cache.stats()
    assert stats.bytes <= 4096
    assert stats.entries == 3
    assert cache.get("fs", "file:///9", "p") is not None


def test_an_update_drops_that_uri_for_every_principal_and_only_it() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("A", scope="private"))
    cache.put("fs", "file:///a", "bob", _result("A", scope="private"))
    cache.put("fs", "file:///b", "alice", _result("B"))
    cache.put("web", "file:///a", "alice", _result("W"))
    cache.forget("fs", "file:///a")
    assert cache.get("fs", "file:///a", "alice") is None
    assert cache.get("fs", "file:///a", "bob") is None
    assert cache.get("fs", "file:///b", "alice") is not None
    assert cache.get("web", "file:///a", "alice") is not None


def test_a_list_change_drops_the_services_entries_and_a_reload_everything() -> None:
    cache, _ = _cache(Clock())
    cache.put("fs", "file:///a", "alice", _result("A"))
    cache.put("web", "file:///a", "alice", _result("W"))
    cache.forget("fs")
    assert cache.get("fs", "file:///a", "alice") is None
    assert cache.get("web", "file:///a", "alice") is not None
    cache.forget(None)
    assert cache.stats().entries == cache.stats().bytes == 0
