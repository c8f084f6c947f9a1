"""A circuit breaker per service: after repeated failures, fail fast; probe; close on success.

Failures are what says the service itself is unwell: no answer in time, or no connection. A
tool's error result, or a JSON-RPC error the service sends, is an answer and counts as success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio

from micro_mcp.errors import UpstreamUnavailable

logger = logging.getLogger(__name__)


class Breaker:
    """Closed, open (failing fast until `cooldown` passes), or half-open (one probe call)."""

    __slots__ = ("_clock", "_open_until", "_probing", "cooldown", "failures", "name", "threshold")

    def __init__(
        self,
        name: str,
        threshold: int,
        cooldown: float,
        clock: Callable[[], float] = anyio.current_time,
    ) -> None:
        self.name = name
        self.threshold = threshold
        """Failures in a row that open the circuit; 0 never opens it."""
        self.cooldown = cooldown
        self.failures = 0
        self._open_until: float | None = None
        self._probing = False
        self._clock = clock

    @property
    def state(self) -> str:
        """`closed`, `open` or `half-open`, for operators."""
        if self._open_until is None:
            return "closed"
        return "half-open" if self._probing or self._clock() >= self._open_until else "open"

    def admit(self) -> None:
        """Let a call through, or refuse it while the circuit is open.

        Raises:
            UpstreamUnavailable: the circuit is open, or its one probe call is under way.
        """
        if self._open_until is None:
            return
        wait = self._open_until - self._clock()
        if wait > 0 or self._probing:
            raise UpstreamUnavailable(
                f"service {self.name!r} failed {self.failures} times in a row; calls fail fast "
                f"for {max(wait, 0):.1f} s more (circuit open)"
            )
        self._probing = True  # half-open: this call finds out whether the service is back

    def record(self, ok: bool | None) -> None:
        """Note how an admitted call ended: answered, failed, or None (cancelled: no verdict)."""
        if ok is None:
            self._probing = False  # a cancelled probe: the next call probes instead
            return
        if ok:
            if self._open_until is not None:
                logger.info("service %s answers again; circuit closed", self.name)
            self.failures, self._open_until, self._probing = 0, None, False
            return
        self.failures += 1
        self._probing = False
        if self.threshold and self.failures >= self.threshold:
            self._open_until = self._clock() + self.cooldown
            logger.warning(
                "service %s: %d failures in a row; circuit open for %.1f s",
                self.name,
                self.failures,
                self.cooldown,
            )
