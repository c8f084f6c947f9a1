"""Hot reload: apply edits of the manifest file to the running mesh.

The file is polled (a `stat` a second costs nothing and, unlike inotify, follows editors that save
by renaming a new file over the old one) and also reloaded on SIGHUP. A manifest that fails to
load is logged and ignored: the running services stay as they are until the file is fixed.
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import anyio
from anyio.abc import TaskStatus

from micro_mcp.config.load import load_manifest
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.services.mesh import Mesh

logger = logging.getLogger(__name__)

Stamp = tuple[int, int, int, int]
"""What tells a file changed: inode, device, size and modification time."""


async def watch_manifest(mesh: Mesh, path: Path, interval: float) -> None:
    """Reload `path` into `mesh` when it changes (checked every `interval` seconds; never when
    it is 0) and on SIGHUP. Runs until cancelled."""
    await mesh.started.wait()
    async with anyio.create_task_group() as tg:
        await tg.start(_on_hangup, mesh, path)
        if interval > 0:
            await tg.start(_poll, mesh, path, interval)
        # Said once both are in place: an edit saved after this line is seen.
        logger.info(
            "watching %s: reloaded on SIGHUP%s",
            path,
            f" and when it changes (checked every {interval:g} s)" if interval > 0 else " only",
        )


async def _poll(mesh: Mesh, path: Path, interval: float, *, task_status: TaskStatus[None]) -> None:
    seen = _stamp(path)
    task_status.started()
    while True:
        await anyio.sleep(interval)
        stamp = _stamp(path)
        # None: mid-save (removed, not yet renamed over) or gone; the last version stays.
        if stamp is not None and stamp != seen:
            seen = stamp
            await reload_manifest(mesh, path)


async def _on_hangup(mesh: Mesh, path: Path, *, task_status: TaskStatus[None]) -> None:
    with anyio.open_signal_receiver(signal.SIGHUP) as signals:
        task_status.started()
        async for _ in signals:
            logger.info("received SIGHUP; reloading %s", path)
            await reload_manifest(mesh, path)


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
