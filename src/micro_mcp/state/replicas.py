"""The replicas of one deployment, as each sees the others through the shared store.

Every replica announces itself every `HEARTBEAT` seconds under its id (host name and process
id: a pod's name on Kubernetes), with the fingerprint of the config it runs and its micro-mcp
version; an announcement lives three heartbeats. Replicas that run different configs (or
versions) are reported: in the log when they start to disagree and when they agree again, in
`/admin/status`, and by the metric `micro_mcp_replicas{config,version}`. They keep serving: a
rolling update of the config passes through such a state, and each replica enforces the config
it runs (every request is authenticated and authorized by the replica that serves it, so a
principal a newer config removed is refused by every replica that runs it).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import anyio
import orjson
from anyio.abc import TaskStatus

from micro_mcp.errors import StateUnavailable
from micro_mcp.state.store import Store

logger = logging.getLogger(__name__)

HEARTBEAT: Final = 5.0
"""Seconds between a replica's announcements."""
LIFETIME: Final = 3 * HEARTBEAT
"""Seconds an announcement lives: a replica that stopped is forgotten after this."""
GROUP: Final = "replicas"
"""The store's group of announcements."""


@dataclass(frozen=True, slots=True, order=True)
class Replica:
    """One replica as it announced itself."""

    id: str
    config: str
    """The fingerprint of the config it runs (gateway config and manifest, as loaded)."""
    version: str
    """Its micro-mcp version."""


def replica_id() -> str:
    """This process's id among the replicas: its host name and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Replicas:
    """This replica's announcements, and the replicas alive as last seen."""

    def __init__(
        self, store: Store, version: str, fingerprint: Callable[[], str], me: str | None = None
    ) -> None:
        """`fingerprint` is asked at each heartbeat, so a reloaded config is announced."""
        self.store = store
        self.version = version
        self.fingerprint = fingerprint
        self.me = me if me is not None else replica_id()
        self.seen: tuple[Replica, ...] = ()
        """The replicas alive at the last heartbeat (this one included), by id."""
        self._agreed = True
        self._reachable = True

    @property
    def agreed(self) -> bool:
        """Whether every replica seen runs the same config and version."""
        return len({(r.config, r.version) for r in self.seen}) <= 1

    async def announce(self) -> None:
        """One heartbeat: say what this replica runs, read what the others do, and log a
        change of agreement.

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        mine = Replica(self.me, self.fingerprint(), self.version)
        record = orjson.dumps({"config": mine.config, "version": mine.version})
        members = await self.store.announce(GROUP, self.me, record, LIFETIME)
        seen = [mine]
        for member, value in members.items():
            if member == self.me:
                continue
            try:
                fields = orjson.loads(value)
                seen.append(Replica(member, str(fields["config"]), str(fields["version"])))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                logger.warning("replica %r announced something unreadable; ignored", member)
        self.seen = tuple(sorted(seen))
        if self.agreed != self._agreed:
            self._agreed = self.agreed
            if self.agreed:
                logger.info(
                    "replicas agree again: config %s, version %s", mine.config, mine.version
                )
            else:
                logger.warning(
                    "replicas run different configs or versions (%s); each serves by its own "
                    "until they agree, as during a rolling update",
                    describe(self.seen, self.me),
                )

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Announce every `HEARTBEAT` seconds for as long as the gateway runs; a store that
        cannot be reached is logged when it fails and when it answers again."""
        started = False
        while True:
            try:
                await self.announce()
            except StateUnavailable:
                if self._reachable:
                    logger.warning("replicas: cannot announce this one; the store is unreachable")
                self._reachable = False
            else:
                if not self._reachable:
                    logger.info("replicas: announcing again")
                self._reachable = True
            if not started:
                task_status.started()  # once the first heartbeat was tried: status shows peers
                started = True
            await anyio.sleep(HEARTBEAT)


def describe(replicas: tuple[Replica, ...], me: str) -> str:
    """Who runs what, for the log: `config 3f2a91c0d4e1 on 2 (this one among them), 9c1b... on
    1`, with the version where it differs."""
    groups: dict[tuple[str, str], list[str]] = {}
    for replica in replicas:
        groups.setdefault((replica.config, replica.version), []).append(replica.id)
    versions = {version for _, version in groups}
    parts: list[str] = []
    for (config, version), ids in sorted(groups.items()):
        what = f"config {config}" + (f" version {version}" if len(versions) > 1 else "")
        part = f"{what} on {len(ids)}"
        parts.append(part + (" (this one among them)" if me in ids else ""))
    return ", ".join(parts)
