"""The bubblewrap sandbox around a stdio service: what it may see, and nothing else.

bubblewrap builds an empty mount namespace and binds into it only what is listed, so the default
is deny: the service gets the system's programs and libraries read-only, its interpreter, its
working directory, a private /tmp, /proc and /dev of its own, and whatever its manifest entry
names. It runs in new user, PID, IPC, UTS and cgroup namespaces, without the network unless the
entry allows it, without capabilities, and dies with the gateway.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Final

from micro_mcp.config.model import SandboxSpec
from micro_mcp.errors import UpstreamUnavailable

SYSTEM_PATHS: Final = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
)
"""Bound read-only when they exist: programs, shared libraries, and what name lookup and TLS
read. Not /etc as a whole, nor /home, /root, /var or /run."""


def sandbox_prefix(
    sandbox: SandboxSpec,
    executable: str,
    cwd: Path | None,
    base_dir: Path,
    *,
    python: bool,
) -> list[str]:
    """`bwrap ... --` to put before the service's argv.

    `executable` is the resolved command, bound read-only so it can run; with `python`, the
    interpreter's prefixes and import path are bound too.

    Raises:
        UpstreamUnavailable: bwrap is not installed, or a named path does not exist.
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise UpstreamUnavailable(
            "the sandbox needs bubblewrap (`bwrap`), which is not installed: install it, or "
            "remove 'sandbox' from the service's entry"
        )
    argv = [bwrap, "--die-with-parent", "--unshare-all", "--cap-drop", "ALL"]
    if sandbox.network:
        argv.append("--share-net")
    for path in SYSTEM_PATHS:
        argv += ["--ro-bind-try", path, path]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    readable = [Path(executable)]
    if python:
        readable += [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path}]
    for path in readable:
        if path.is_absolute() and path.exists():
            argv += ["--ro-bind", str(path), str(path)]
    if cwd is not None:
        argv += ["--ro-bind", str(cwd), str(cwd)]
    # Later binds lie over earlier ones: what the entry names wins, and writable wins last.
    for entry in sandbox.read_only:
        path = str(_declared(entry, base_dir))
        argv += ["--ro-bind", path, path]
    for entry in sandbox.read_write:
        path = str(_declared(entry, base_dir))
        argv += ["--bind", path, path]
    argv += ["--chdir", str(cwd) if cwd is not None else "/"]
    return [*argv, "--"]


def _declared(entry: str, base_dir: Path) -> Path:
    path = (base_dir / entry).resolve()
    if not path.exists():
        raise UpstreamUnavailable(f"sandbox path does not exist: {path}")
    return path
