"""A real HAProxy in front of gateway replicas: round robin per request, no stickiness, each
response saying which replica served it (`X-Served-By`); a replica that stops answering is
taken out by health checks on `/healthz`, and a request that cannot connect to one goes to
another (`retry-on conn-failure`, never a request that may have run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from tests.e2e.conftest import reap, wait_listening

SERVED_BY = "x-served-by"
"""The response header naming the replica (HAProxy's server name) that answered."""


def require_haproxy() -> str:
    """The `haproxy` binary; skip when it is not installed (fail under CI, where scripts/test
    installs it)."""
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if binary is None:
        message = "haproxy is not installed; scripts/test installs it (Debian haproxy)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def config(port: int, backends: dict[str, int], *, sticky: bool = False) -> str:
    """HAProxy's config: one frontend on `port`, round robin over `backends` (name: port);
    `sticky`: a request naming a handshake-era session goes to the replica whose `initialize`
    reply created it (learnt from the reply's `Mcp-Session-Id`)."""
    stick = (
        "  stick-table type string len 128 size 100k expire 1h\n"
        "  stick store-response res.hdr(mcp-session-id)\n"
        "  stick match req.hdr(mcp-session-id)\n"
        if sticky
        else ""
    )
    servers = "".join(
        f"  server {name} 127.0.0.1:{backend} check inter 200ms fall 1 rise 1\n"
        for name, backend in backends.items()
    )
    return f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch 1
  retry-on conn-failure
frontend mcp
  bind 127.0.0.1:{port}
  default_backend gateways
backend gateways
  balance roundrobin
  http-reuse never
  option httpchk
  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  http-response set-header X-Served-By %[srv_name]
{stick}{servers}"""


@asynccontextmanager
async def haproxy(
    folder: Path, port: int, backends: dict[str, int], *, sticky: bool = False
) -> AsyncGenerator[str]:
    """HAProxy on `port` over `backends`, in the foreground; yields the URL of its `/mcp`
    (the gateways must accept its `Host`, `127.0.0.1:PORT`: `http.allowedHosts`)."""
    cfg = folder / "haproxy.cfg"
    cfg.write_text(config(port, backends, sticky=sticky))
    with (folder / "haproxy.log").open("ab") as log:
        process = await anyio.open_process(
            [require_haproxy(), "-db", "-f", str(cfg)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        await wait_listening(port)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        await reap(process)
