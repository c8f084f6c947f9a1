"""The catalog clients see: the current snapshot, and the recent ones cursors point into."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Final

from micro_mcp.config.profiles import ToolOverride
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

SNAPSHOTS_KEPT: Final = 8
"""Catalog snapshots kept for cursors cut from an older one: a client paging through a list
while the catalog changes still gets consistent pages."""


class CatalogStore:
    """Generations of the merged catalog: each rebuild makes a new immutable snapshot."""

    __slots__ = ("_generation", "_snapshots", "current")

    def __init__(self, namers: Mapping[str, Namer]) -> None:
        self._generation = 0
        self.current = Catalog.build(0, dict(namers), {})
        """The snapshot every new request reads."""
        self._snapshots: OrderedDict[int, Catalog] = OrderedDict({0: self.current})

    def rebuild(
        self,
        namers: Mapping[str, Namer],
        catalogs: Mapping[str, ServiceCatalog],
        overrides: Mapping[str, Mapping[str, ToolOverride]] | None = None,
    ) -> None:
        """Merge the services' lists into a new snapshot (tools shown as `overrides` say) and
        make it current."""
        self._generation += 1
        self.current = Catalog.build(self._generation, dict(namers), dict(catalogs), overrides)
        self._snapshots[self._generation] = self.current
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)

    def snapshot(self, generation: int) -> Catalog | None:
        """A recent snapshot by generation, for cursors; None once it fell out."""
        return self._snapshots.get(generation)
