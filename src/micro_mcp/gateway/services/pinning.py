"""Tool pinning as the mesh runs it: approvals in memory, read from and written to a `PinStore`.

Each catalog rebuild passes every service's lists through `registry.pins.judge` with the
approvals held in memory; the verdict is cached per service until its catalog, its mode or the
approvals change, so a rebuild that changes one service hashes only that one. What is held is
left out of the lists and named to the catalog, which refuses calls to it (`Held`, -32019).
Approvals on first sight and the held definitions are written to the store afterwards, off the
event loop; the store is read again when it changes on disk (`micro-mcp approve` wrote it), on
SIGHUP, and before the first start. Calls never touch any of this: the per-call cost is zero.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
import anyio.to_thread

from micro_mcp.config.pinning import DEFAULT_MAX_BYTES, Mode
from micro_mcp.errors import PinStoreError
from micro_mcp.registry.catalog import ServiceCatalog
from micro_mcp.registry.pin_store import MemoryPinStore, PinStore
from micro_mcp.registry.pins import Hold, Key, Pin, Verdict, judge

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Judged:
    catalog: ServiceCatalog
    mode: Mode
    version: int
    verdict: Verdict


class Pinning:
    """The approvals the catalog is judged against, and what each service has held back now."""

    def __init__(self, store: PinStore | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.store: PinStore = store if store is not None else MemoryPinStore()
        self.max_bytes = max_bytes
        self.approved: dict[Key, Pin] = {}
        self.held: dict[str, tuple[Hold, ...]] = {}
        """Namespace -> what is held back now."""
        self.drifted: dict[str, tuple[Hold, ...]] = {}
        """Namespace -> with `warn`, what changed and is served anyway."""
        self._version = 0
        self._judged: dict[str, _Judged] = {}
        self._unwritten: dict[str, tuple[dict[Key, Pin], tuple[Pin, ...]]] = {}
        """Namespace -> (approvals on first sight, held now) not yet in the store."""
        self._reported: dict[Key, str] = {}
        self._writing = anyio.Lock()

    async def load(self) -> bool:
        """Read the store again; returns whether the approvals changed.

        Raises:
            PinStoreError: the store is unreadable or a record fails its checks.
        """
        async with self._writing:
            await self._write()
            pins = await anyio.to_thread.run_sync(self.store.load)
        approved = pins.approved
        for first, _held in self._unwritten.values():  # seen first while the store was read
            approved.update(first)
        if approved == self.approved:
            return False
        self.approved = approved
        self._version += 1
        return True

    def apply(
        self, services: Mapping[str, tuple[Mode, ServiceCatalog]]
    ) -> tuple[dict[str, ServiceCatalog], dict[str, list[tuple[str, str]]]]:
        """Judge each service's catalog: what stays listed, and per namespace the (tool or
        prompt name, why) held back. Approvals on first sight are kept at once and written
        later (`write`)."""
        kept: dict[str, ServiceCatalog] = {}
        held: dict[str, list[tuple[str, str]]] = {}
        for namespace, (mode, catalog) in services.items():
            verdict = self._verdict(namespace, mode, catalog)
            kept[namespace] = verdict.kept
            held[namespace] = [
                (h.pin.name, h.describe())
                for h in verdict.held
                if h.pin.kind != "resourceTemplates"
            ]
        for gone in self.held.keys() - services.keys():
            del self.held[gone]
            self.drifted.pop(gone, None)
        return kept, held

    def _verdict(self, namespace: str, mode: Mode, catalog: ServiceCatalog) -> Verdict:
        seen = self._judged.get(namespace)
        if (
            seen is not None
            and seen.catalog is catalog
            and seen.mode == mode
            and seen.version == self._version
        ):
            return seen.verdict
        verdict = judge(namespace, mode, catalog, self.approved, self.max_bytes)
        for pin in verdict.first_seen:
            self.approved[pin.key] = pin  # other services' verdicts stand: keys are per service
        self._judged[namespace] = _Judged(catalog, mode, self._version, verdict)
        self._report(namespace, verdict)
        if mode != "off" and (verdict.first_seen or verdict.held != self.held.get(namespace, ())):
            first = dict(self._unwritten.get(namespace, ({}, ()))[0])
            first.update((pin.key, pin) for pin in verdict.first_seen)
            self._unwritten[namespace] = (first, tuple(h.pin for h in verdict.held))
        self.held[namespace] = verdict.held
        self.drifted[namespace] = verdict.drifted
        return verdict

    def _report(self, namespace: str, verdict: Verdict) -> None:
        for hold in verdict.held + verdict.drifted:
            if self._reported.get(hold.pin.key) != hold.pin.digest:
                self._reported[hold.pin.key] = hold.pin.digest
                action = "served anyway (pinning: warn)" if hold in verdict.drifted else "held back"
                logger.warning(
                    "pinning: %s; %s until approved (micro-mcp approve %s.%s)",
                    hold.describe(),
                    action,
                    namespace,
                    hold.pin.name,
                )
        now = {h.pin.key for h in verdict.held + verdict.drifted}
        for key in [k for k in self._reported if k[0] == namespace and k not in now]:
            del self._reported[key]
            logger.info("pinning: %s %s.%s is approved again", key[1][:-1], key[0], key[2])

    @property
    def unwritten(self) -> bool:
        """Whether approvals or held definitions wait to be written to the store."""
        return bool(self._unwritten)

    async def write(self) -> None:
        """Write what waits to the store (in a worker thread); a failure is logged, and what
        waits is tried again on the next write."""
        async with self._writing:
            try:
                await self._write()
            except PinStoreError as exc:
                logger.error("pinning: %s", exc)

    async def _write(self) -> None:
        while self._unwritten:
            namespace, waiting = next(iter(self._unwritten.items()))
            first, held = list(waiting[0].values()), waiting[1]
            await anyio.to_thread.run_sync(self.store.record, namespace, first, held)
            if held:  # said once it is on disk: what `micro-mcp approve` now shows
                logger.info(
                    "pinning: %s: %d definition(s) held, recorded in %s",
                    namespace,
                    len(held),
                    self.store.describe(),
                )
            if self._unwritten.get(namespace) is waiting:
                del self._unwritten[namespace]
