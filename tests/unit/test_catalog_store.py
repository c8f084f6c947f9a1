"""The catalog store: one immutable snapshot per rebuild, the recent ones kept for cursors."""

from __future__ import annotations

from micro_mcp.gateway.services.catalog_store import SNAPSHOTS_KEPT, CatalogStore
from micro_mcp.policy.model import Policy
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

NAMERS = {"fs": Namer("fs")}


def _tools(*names: str) -> ServiceCatalog:
    return ServiceCatalog(tools=tuple({"name": name} for name in names))


def _names(catalog: Catalog | None) -> list[str]:
    assert catalog is not None
    return [tool["name"] for tool in catalog.visible("tools", "p", Policy())]


def test_a_new_store_holds_an_empty_generation_zero():
    store = CatalogStore(NAMERS)
    assert (store.current.generation, store.current.count("tools")) == (0, 0)
    assert store.snapshot(store.current.fingerprint("tools"), "tools") is store.current
    assert store.snapshot(store.current.fingerprint("tools") ^ 1, "tools") is None


def test_each_rebuild_makes_a_new_current_generation_and_keeps_the_old_one_unchanged():
    store = CatalogStore(NAMERS)
    store.rebuild(NAMERS, {"fs": _tools("read")})
    first = store.current
    store.rebuild(NAMERS, {"fs": _tools("read", "write")})
    assert (first.generation, store.current.generation) == (1, 2)
    assert store.snapshot(first.fingerprint("tools"), "tools") is first
    assert store.snapshot(store.current.fingerprint("tools"), "tools") is store.current
    assert _names(first) == ["fs.read"]
    assert _names(store.current) == ["fs.read", "fs.write"]


def test_only_the_latest_snapshots_are_kept():
    store = CatalogStore(NAMERS)
    rebuilds = SNAPSHOTS_KEPT + 3
    fingerprints: list[int] = []
    for i in range(rebuilds):
        store.rebuild(NAMERS, {"fs": _tools(f"tool{i}")})
        fingerprints.append(store.current.fingerprint("tools"))
    kept = [i for i, f in enumerate(fingerprints) if store.snapshot(f, "tools") is not None]
    assert kept == list(range(rebuilds - SNAPSHOTS_KEPT, rebuilds))
    assert _names(store.snapshot(fingerprints[kept[0]], "tools")) == [f"fs.tool{kept[0]}"]


def test_stores_built_apart_from_the_same_lists_agree_on_fingerprints():
    # Two replicas: their own stores, generations and snapshots, the same services' lists.
    here, there = CatalogStore(NAMERS), CatalogStore(NAMERS)
    here.rebuild(NAMERS, {"fs": _tools("read", "write")})
    for _ in range(3):
        there.rebuild(NAMERS, {"fs": _tools("read", "write")})
    fingerprint = here.current.fingerprint("tools")
    assert here.current.generation != there.current.generation
    assert there.snapshot(fingerprint, "tools") is there.current
    assert there.current.fingerprint("prompts") == here.current.fingerprint("prompts")
    there.rebuild(NAMERS, {"fs": _tools("read", "write", "delete")})
    assert there.current.fingerprint("tools") != fingerprint


def test_a_rebuild_takes_new_namers_for_a_changed_set_of_services():
    store = CatalogStore(NAMERS)
    namers = {"fs": Namer("fs", separator="__"), "web": Namer("web")}
    store.rebuild(namers, {"fs": _tools("read"), "web": _tools("get")})
    assert _names(store.current) == ["fs__read", "web.get"]
    assert list(store.current.namers) == ["fs", "web"]
