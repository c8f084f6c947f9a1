"""A service run as a child process, speaking MCP over its stdin and stdout."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from anyio.abc import ByteReceiveStream, Process, TaskStatus

from micro_mcp import codes
from micro_mcp.config.model import ServiceSpec
from micro_mcp.config.references import ServiceSecrets
from micro_mcp.errors import McpError
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.redaction import Redactor
from micro_mcp.transport.framing import LineFramer, Oversized
from micro_mcp.upstream import process
from micro_mcp.upstream.session import SessionHandler, UpstreamSession

logger = logging.getLogger(__name__)

STOP_GRACE = 2.0
"""Seconds a service gets to exit after its stdin closes, and again after SIGTERM."""
STDERR_LINE_LIMIT = 64 * 1024
"""Longest stderr line kept for the log; the rest of such a line is dropped."""
BAD_LINE_REPORT_INTERVAL = 10.0
"""Seconds between warnings about lines on a service's stdout that are not JSON-RPC: a service
printing debug output there must not flood the gateway's log with a warning a line."""


async def run_stdio_service(
    namespace: str,
    spec: ServiceSpec,
    base_dir: Path,
    handler: SessionHandler,
    on_session: Callable[[UpstreamSession], Awaitable[None]],
    *,
    secrets: ServiceSecrets,
    max_message_bytes: int,
    task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Start the service, hand its session to `on_session` once it is ready, serve until it exits.

    `on_session` runs after the handshake (to load the catalog); `task_status.started()` is
    called when it returns. Cancelling the task stops the process: stdin closed, then SIGTERM,
    then SIGKILL.

    Raises:
        McpError: the service could not be started or failed its handshake.
    """
    environment = process.service_env(secrets.env_values())
    cwd = process.service_cwd(spec, base_dir)
    argv = process.service_argv(spec, environment, cwd, base_dir)
    try:
        proc = await anyio.open_process(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=environment,
            start_new_session=True,
        )
    except OSError as exc:
        raise McpError(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from exc
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    stdin = proc.stdin

    async def send(message: Message) -> None:
        # No lock: the pipe transport takes each write whole and in order, so concurrent
        # requests never interleave; a lock would only add an event-loop turn per message.
        try:
            await stdin.send(jsonrpc.encode(message))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            session.close("its stdin is closed")
            raise McpError(f"service {namespace!r} is unavailable: stdin closed") from exc

    session = UpstreamSession(namespace, send, handler)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_pump_stderr, namespace, proc.stderr, secrets.referenced())
            stdout_closed = anyio.Event()
            tg.start_soon(_pump_stdout, session, proc.stdout, max_message_bytes, stdout_closed)
            with anyio.fail_after(spec.startup_timeout):
                await session.handshake(spec.protocol, spec.startup_timeout)
                await on_session(session)
            task_status.started(session)
            # Read to the end of stdout before reaping: the last replies may still be in the pipe.
            await stdout_closed.wait()
            with anyio.move_on_after(STOP_GRACE):
                await proc.wait()
            logger.warning("service %s stopped (exit code %s)", namespace, proc.returncode)
            tg.cancel_scope.cancel()
    except TimeoutError:
        raise McpError(
            f"service {namespace!r} did not finish starting within {spec.startup_timeout:g} s"
        ) from None
    finally:
        session.close("the gateway stopped it")
        with anyio.CancelScope(shield=True):
            await _stop(proc)


async def _pump_stdout(
    session: UpstreamSession, stream: ByteReceiveStream, limit: int, closed: anyio.Event
) -> None:
    framer = LineFramer(limit)
    try:
        await _read_messages(session, stream, framer)
    finally:
        session.close("its process ended")
        closed.set()


async def _read_messages(
    session: UpstreamSession, stream: ByteReceiveStream, framer: LineFramer
) -> None:
    limit = framer.max_bytes
    ignored, reported_at = 0, -BAD_LINE_REPORT_INTERVAL
    async for chunk in stream:
        for line in framer.feed(chunk):
            if isinstance(line, Oversized):
                logger.error(
                    "service %s sent a %d-byte message, over the %d-byte limit; dropped",
                    session.namespace,
                    line.size,
                    limit,
                )
                request_id = line.request_id()
                if request_id is not None:  # the caller hears now, not at its timeout
                    message = f"the reply was {line.size} bytes, over the {limit}-byte limit"
                    session.fail(request_id, {"code": codes.MESSAGE_TOO_LARGE, "message": message})
                continue
            try:
                message = jsonrpc.decode(line)
            except McpError as exc:
                ignored += 1
                now = anyio.current_time()
                if now - reported_at >= BAD_LINE_REPORT_INTERVAL:
                    logger.warning(
                        "service %s wrote %d line(s) on stdout that are not JSON-RPC, ignored "
                        "(the last: %s); a service logs to stderr",
                        session.namespace,
                        ignored,
                        exc,
                    )
                    ignored, reported_at = 0, now
                continue
            await session.receive(message)


async def _pump_stderr(namespace: str, stream: ByteReceiveStream, known: list[str]) -> None:
    # A service whose stderr nobody reads blocks once the pipe fills: always drain it.
    service_log = logging.getLogger(f"micro_mcp.service.{namespace}")
    tagged = {"service": namespace}  # a JSON log line carries it as a field of its own
    framer = LineFramer(STDERR_LINE_LIMIT)
    redactor = Redactor(known)  # a service that echoes a secret must not leak it into our log
    async for chunk in stream:
        for line in framer.feed(chunk):
            if isinstance(line, bytes):
                text = redactor.line(line.decode("utf-8", "replace").rstrip())
                service_log.info("%s", text, extra=tagged)


async def _stop(proc: Process) -> None:
    """Stop a service politely, then firmly: close stdin, SIGTERM, SIGKILL.

    The signals go to the service's whole process group (it was started in a session of its
    own), so whatever it spawned stops with it instead of living on as an orphan.
    """
    if proc.returncode is None and proc.stdin is not None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError):  # closed from the other side
            await proc.stdin.aclose()
    for signum in (None, signal.SIGTERM, signal.SIGKILL):
        if signum is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, signum)
            except ProcessLookupError:
                break
        with anyio.move_on_after(STOP_GRACE):
            await proc.wait()
        if proc.returncode is not None:
            break
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # children the service left behind when it exited
    await proc.aclose()
