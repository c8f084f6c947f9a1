"""What a failing audit sink means for the calls: `closed` refuses them until every sink writes
again, `open` serves them and raises the alarm (log and metric). Either way the gateway keeps
running, and notices by itself when the sink recovers (the next record is tried again)."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from typing import Final, Literal

from micro_mcp.audit.events import AuditEvent
from micro_mcp.audit.sinks import AuditSink
from micro_mcp.errors import AuditUnavailable

logger = logging.getLogger(__name__)

SINK_ERRORS: Final = (OSError, sqlite3.Error)
"""What a sink raises when it cannot write: a full disk, a lost directory, a locked database."""


class Breaker:
    """An `AuditSink` over the configured sinks that never lets their failures escape as
    anything but `AuditUnavailable` (and that only when failing closed)."""

    def __init__(
        self,
        sinks: Sequence[AuditSink],
        failure_mode: Literal["closed", "open"] = "closed",
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.sinks = tuple(sinks)
        self.failure_mode = failure_mode
        self.on_failure = on_failure
        """Told the failure mode for every record not written (the metric)."""
        self.down: str | None = None
        """Why the trail cannot be written, while it cannot."""

    def emit(self, event: AuditEvent) -> None:
        """Write the event to every sink.

        Raises:
            AuditUnavailable: a sink failed and the mode is `closed`.
        """
        failure: Exception | None = None
        for sink in self.sinks:
            try:
                sink.emit(event)
            except SINK_ERRORS as exc:
                failure = exc
        self._settle_state(failure)

    async def settle(self) -> None:
        """Wait for every sink's durability promise.

        Raises:
            AuditUnavailable: a sink failed to make it and the mode is `closed`.
        """
        failure: Exception | None = None
        for sink in self.sinks:
            try:
                await sink.settle()
            except SINK_ERRORS as exc:
                failure = exc
        if failure is not None:  # recovery is seen by a record written, not by a wait
            self._settle_state(failure)

    def close(self) -> None:
        """Close every sink; a failure to close is logged."""
        for sink in self.sinks:
            try:
                sink.close()
            except SINK_ERRORS as exc:
                logger.error("audit: closing a sink failed: %s", exc)

    def _settle_state(self, failure: Exception | None) -> None:
        if failure is None:
            if self.down is not None:
                logger.warning("audit: the trail is written again (it failed: %s)", self.down)
                self.down = None
            return
        reason = f"{type(failure).__name__}: {failure}"
        if self.down is None:
            consequence = (
                "calls are refused until it recovers (audit.failure_mode: closed)"
                if self.failure_mode == "closed"
                else "calls go on UNAUDITED (audit.failure_mode: open)"
            )
            logger.error("audit: the trail cannot be written (%s); %s", reason, consequence)
        self.down = reason
        if self.on_failure is not None:
            self.on_failure(self.failure_mode)
        if self.failure_mode == "closed":
            # The client is told what failed, not where: paths stay in the operator's log.
            what = (
                os.strerror(failure.errno)
                if isinstance(failure, OSError) and failure.errno
                else type(failure).__name__
            )
            raise AuditUnavailable(f"Audit trail unavailable, calls are refused: {what}")
