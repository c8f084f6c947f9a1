"""Hot reload: apply edits of the manifest file (and of the config file) to the running gateway.

A file is polled (a `stat` a second costs nothing and, unlike inotify, follows editors that save
by renaming a new file over the old one), and every watched file is reloaded on SIGHUP. A file
that fails to load is logged and ignored: what runs stays as it is until the file is fixed.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from micro_mcp.config.load import load_manifest
from micro_mcp.errors import ConfigError, PinStoreError
from micro_mcp.gateway.services.mesh import Mesh

logger = logging.getLogger(__name__)

Stamp = tuple[int, int, int, int]
"""What tells a file changed: inode, device, size and modification time."""
Reload = Callable[[Path], Awaitable[object]]
"""Reads a watched file again and applies it (logging, not raising, when it is bad)."""


async def watch(mesh: Mesh, files: Sequence[tuple[Path, Reload]], interval: float) -> None:
    """Reload each file when it changes (checked every `interval` seconds; never when it is 0),
    and all of them, in order, on SIGHUP (one handler: a process has one per signal). Starts
    once the mesh has; runs until cancelled."""
    await mesh.started.wait()
    async with anyio.create_task_group() as tg:
        await tg.start(_on_hangup, files)
        if interval > 0:
            for path, reload in files:
                await tg.start(_poll, path, reload, interval)
        # Said once all are in place: an edit saved after this line is seen.
        logger.info(
            "watching %s: reloaded on SIGHUP%s",
            " and ".join(str(path) for path, _ in files),
            f" and when changed (checked every {interval:g} s)" if interval > 0 else " only",
        )


async def _poll(
    path: Path, reload: Reload, interval: float, *, task_status: TaskStatus[None]
) -> None:
    seen = _stamp(path)
    task_status.started()
    while True:
        await anyio.sleep(interval)
        stamp = _stamp(path)
        # None: mid-save (removed, not yet renamed over) or gone; the last version stays.
        if stamp is not None and stamp != seen:
            seen = stamp
            await reload(path)


async def _on_hangup(
    files: Sequence[tuple[Path, Reload]], *, task_status: TaskStatus[None]
) -> None:
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            done: set[Reload] = set()  # a manifest is read once, however many files name it
            for path, reload in files:
                if reload in done:
                    continue
                done.add(reload)
                logger.info("received SIGHUP; reloading %s", path)
                await reload(path)


async def follow_pins(mesh: Mesh, version: Callable[[], Awaitable[int]], interval: float) -> None:
    """Read the pin store again whenever `version` (the shared store's change counter) moves:
    another replica, or `micro-mcp approve`, approved something. Checked every `interval`
    seconds (never when it is 0); a store that cannot be read is logged and tried again."""
    await mesh.started.wait()
    if interval <= 0:
        return
    seen: int | None = None
    failing = False
    while True:
        try:
            now = await version()
        except PinStoreError as exc:
            if not failing:  # said once per outage, not every `interval`
                logger.error("pinning: the approvals in memory stay: %s", exc)
            failing, now = True, None
        else:
            if failing:
                logger.info("pinning: the pin store answers again")
            failing = False
        if now is not None and now != seen and await mesh.reload_pins():
            seen = now  # the first pass reads the store once: it may have moved since start
        await anyio.sleep(interval)


async def reload_manifest(mesh: Mesh, path: Path) -> bool:
    """Load the manifest at `path` and apply it; on a bad file, log why and keep what runs.

    Returns whether the file loaded.
    """
    try:
        manifest, _ = load_manifest(path)
    except ConfigError as exc:
        logger.error("manifest not reloaded, the running services are kept: %s", exc)
        return False
    await mesh.reload(manifest)
    return True


def _stamp(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns)
