"""The catalog store: one immutable snapshot per rebuild, the recent ones kept for cursors."""

from __future__ import annotations

from micro_mcp.gateway.services.catalog_store import SNAPSHOTS_KEPT, CatalogStore
from micro_mcp.policy.model import Policy
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import ServiceCatalog

NAMERS = {"fs": Namer("fs")}


def _tools(*names: str) -> ServiceCatalog:
    return ServiceCatalog(tools=tuple({"name": name} for name in names))


def _names(store: CatalogStore, generation: int) -> list[str]:
    catalog = store.snapshot(generation)
    assert catalog is not None
    return [tool["name"] for tool in catalog.visible("tools", "p", Policy())]


def test_a_new_store_holds_an_empty_generation_zero():
    store = CatalogStore(NAMERS)
    assert (store.current.generation, store.current.count("tools")) == (0, 0)
    assert store.snapshot(0) is store.current
    assert store.snapshot(1) is None


def test_each_rebuild_makes_a_new_current_generation_and_keeps_the_old_one_unchanged():
    store = CatalogStore(NAMERS)
    store.rebuild(NAMERS, {"fs": _tools("read")})
    first = store.current
    store.rebuild(NAMERS, {"fs": _tools("read", "write")})
    assert (first.generation, store.current.generation) == (1, 2)
    assert store.snapshot(1) is first and store.snapshot(2) is store.current
    assert _names(store, 1) == ["fs.read"]
    assert _names(store, 2) == ["fs.read", "fs.write"]


def test_only_the_latest_snapshots_are_kept():
    store = CatalogStore(NAMERS)
    rebuilds = SNAPSHOTS_KEPT + 3
    for i in range(rebuilds):
        store.rebuild(NAMERS, {"fs": _tools(f"tool{i}")})
    kept = [g for g in range(rebuilds + 1) if store.snapshot(g) is not None]
    assert kept == list(range(rebuilds + 1 - SNAPSHOTS_KEPT, rebuilds + 1))
    assert _names(store, kept[0]) == [f"fs.tool{kept[0] - 1}"]


def test_a_rebuild_takes_new_namers_for_a_changed_set_of_services():
    store = CatalogStore(NAMERS)
    namers = {"fs": Namer("fs", separator="__"), "web": Namer("web")}
    store.rebuild(namers, {"fs": _tools("read"), "web": _tools("get")})
    assert _names(store, 1) == ["fs__read", "web.get"]
    assert list(store.current.namers) == ["fs", "web"]
