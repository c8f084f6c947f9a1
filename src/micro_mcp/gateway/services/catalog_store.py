"""The catalog clients see: the current snapshot, and the recent ones cursors point into."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Final

from micro_mcp.config.profiles import ToolOverride
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import Catalog, ServiceCatalog

logger = logging.getLogger(__name__)

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
        held: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        overrides: Mapping[str, Mapping[str, ToolOverride]] | None = None,
    ) -> None:
        """Merge the services' lists into a new snapshot (tools shown as `overrides` say) and
        make it current; names refused that the previous snapshot did not refuse are logged."""
        self._generation += 1
        before = set(self.current.refused)
        self.current = Catalog.build(
            self._generation, dict(namers), dict(catalogs), held, overrides
        )
        for refusal in self.current.refused:
            if refusal not in before:
                logger.warning("%s; the name stays with its owner", refusal.describe())
        self._snapshots[self._generation] = self.current
        while len(self._snapshots) > SNAPSHOTS_KEPT:
            self._snapshots.popitem(last=False)

    def snapshot(self, fingerprint: int, kind: str) -> Catalog | None:
        """The newest recent snapshot whose list of `kind` has `fingerprint`, for cursors (cut
        here or by another replica); None once it fell out."""
        for catalog in reversed(self._snapshots.values()):
            if catalog.fingerprint(kind) == fingerprint:
                return catalog
        return None
