"""Launching a stdio service: exact argv, no shell, a small inherited environment."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from micro_mcp.config.model import ServiceSpec
from micro_mcp.errors import UpstreamUnavailable
from micro_mcp.upstream.sandbox import sandbox_prefix

INHERITED_ENV: Final = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
)
"""The only variables a service inherits from the gateway. The gateway's own secrets (its token,
cloud credentials) and loader hooks such as LD_PRELOAD or NODE_OPTIONS stay behind; a service
that needs more names it in its manifest `env`."""

logger = logging.getLogger(__name__)

PYTHON_ALIASES: Final = frozenset({"python", "python3"})
"""Commands that mean "the interpreter the gateway runs on", so the example manifest works in
whatever environment micro-mcp is installed."""


def service_env(own: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment a service starts with: the few inherited variables, then `own` (its
    entry's `env`, references resolved). Its PATH starts with the folder of the gateway's
    own environment's commands (a venv's `bin`), as if that environment were activated, so a
    server installed beside micro-mcp is found by name; a PATH in the entry's `env` wins."""
    env = {key: environ[key] for key in INHERITED_ENV if key in environ}
    env["PATH"] = _with_own_scripts(env.get("PATH", os.defpath))
    env.update(own)
    # Python services must flush every line at once; buffering would stall the protocol.
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _with_own_scripts(path: str) -> str:
    scripts = sysconfig.get_path("scripts")
    entries = path.split(os.pathsep) if path else []
    if scripts in entries:
        return path
    return os.pathsep.join([scripts, *entries])


def service_argv(
    spec: ServiceSpec, env: Mapping[str, str], cwd: Path | None, base_dir: Path
) -> list[str]:
    """The exact argv to execute, with the command resolved on the service's PATH, behind the
    resource limits and the sandbox when the entry asks for them.

    Raises:
        UpstreamUnavailable: the command cannot be found or is not executable, or a tool the
            limits or the sandbox need is missing.
    """
    command = spec.command
    assert command is not None, "stdio services have a command"  # checked by ServiceSpec
    if command in PYTHON_ALIASES:
        resolved: str | None = sys.executable
    elif "/" in command:  # a path, not a name: relative to where the service starts, as args are
        candidate = Path(command) if cwd is None else cwd / command
        executable = candidate.is_file() and os.access(candidate, os.X_OK)
        resolved = str(candidate) if executable else None
    else:
        resolved = shutil.which(command, path=env.get("PATH"))
    if resolved is None:
        raise UpstreamUnavailable(f"command not found or not executable: {command!r}")
    confined = (
        []
        if spec.sandbox is None
        else sandbox_prefix(spec.sandbox, resolved, cwd, base_dir, python=command in PYTHON_ALIASES)
    )
    # prlimit outside bwrap: the limits hold for the sandbox and all it starts.
    return [*_death_prefix(), *_limits_prefix(spec), *confined, resolved, *spec.args]


@functools.cache
def _death_prefix() -> tuple[str, ...]:
    """`setpriv --pdeathsig KILL --` before the command: the kernel kills the service when the
    gateway dies, however it dies (SIGKILL, OOM killer), so no service outlives it. setpriv
    (util-linux) sets the signal and execs, so the service keeps its pid; the signal survives
    the execs that follow (prlimit, bwrap). It is sent when the thread that started the service
    ends: the event loop's, which lives as long as the gateway."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        logger.warning(
            "`setpriv` (util-linux) not found: services will outlive a gateway killed with SIGKILL"
        )
        return ()
    return (setpriv, "--pdeathsig", "KILL", "--")


def _limits_prefix(spec: ServiceSpec) -> list[str]:
    """`prlimit --as=... --` before the command: it sets the limits and execs the service, so
    the service keeps its pid and the gateway its handle on it."""
    limits = spec.limits
    if limits is None:
        return []
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise UpstreamUnavailable("resource limits need `prlimit` (util-linux), not found")
    prefix = [prlimit]
    if limits.memory_mb is not None:
        prefix.append(f"--as={limits.memory_mb * 1024 * 1024}")
    if limits.cpu_seconds is not None:
        prefix.append(f"--cpu={limits.cpu_seconds}")
    if limits.open_files is not None:
        prefix.append(f"--nofile={limits.open_files}")
    return [*prefix, "--"]


def service_cwd(spec: ServiceSpec, base_dir: Path) -> Path | None:
    """The working directory: `cwd` relative to the manifest's folder, and the manifest's folder
    itself when not given. So every relative path of an entry (`cwd`, a `./command`, a
    relative argument, a sandbox path) means the same place: relative to the manifest. A
    sandboxed service without `cwd` starts in `/` (None here): the manifest's folder, which may
    hold the gateway's config, is not shown to it unasked.

    Raises:
        UpstreamUnavailable: the directory does not exist.
    """
    if spec.cwd is None:
        return None if spec.sandbox is not None else base_dir.resolve()
    cwd = (base_dir / spec.cwd).resolve()
    if not cwd.is_dir():
        raise UpstreamUnavailable(f"cwd is not a directory: {cwd}")
    return cwd
