"""Rate limits and quotas on routed calls: which rules apply to a call, their counters in the
store (this process's memory, or a Redis that several gateways share), and the refusal that
says when to retry.

The dispatcher asks `RateLimits.check` after policy allowed a `tools/call`, `prompts/get` or
`resources/read`; a gateway without rules has no `RateLimits` at all, so an unlimited call
costs nothing. Counting is the `limits` library's (its asyncio API); a store that cannot be
reached follows the config's `failureMode`.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from fnmatch import translate
from typing import Final

import anyio
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import STRATEGIES, RateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from micro_mcp.config.rate_limits import RateLimitRule, RateLimitsSpec
from micro_mcp.errors import RateLimited, RateLimitUnavailable
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.policy.model import Principal
from micro_mcp.registry.catalog import Route
from micro_mcp.telemetry.recorder import Recorder

logger = logging.getLogger(__name__)

WARN_EVERY: Final = 10.0
"""Seconds between log warnings about an unreachable store while calls fail open."""
CLOSE_TIMEOUT: Final = 2.0
"""Seconds to close the store's connections at shutdown."""


class Rule:
    """A compiled `RateLimitRule`: whom and what it applies to, its rates, its counter key."""

    __slots__ = ("everyone", "groups", "id", "items", "per", "prefix", "principals", "subjects")

    def __init__(self, spec: RateLimitRule, strategy: str = "fixed-window") -> None:
        self.id = spec.id
        self.prefix = (strategy, spec.id)
        """Each strategy keeps its counters in shapes of its own: a changed strategy must not
        meet the old one's keys in a shared store."""
        self.items: tuple[RateLimitItem, ...] = tuple(parse_many(spec.rate))
        self.principals = frozenset(spec.principals)
        self.groups = frozenset(spec.groups)
        self.everyone = not spec.principals and not spec.groups
        patterns = spec.subjects
        # One alternation, as policies do; `*` alone (the default) needs no regex at all.
        self.subjects: re.Pattern[str] | None = (
            None
            if "*" in patterns
            else re.compile("|".join(f"(?:{translate(p)})" for p in patterns))
        )
        self.per = spec.per

    def applies(self, principal: Principal, subject: str) -> bool:
        """Whether a call by `principal` to `subject` counts against this rule."""
        if not (
            self.everyone
            or principal.name in self.principals
            or not self.groups.isdisjoint(principal.groups)
        ):
            return False
        return self.subjects is None or self.subjects.match(subject) is not None

    def key(self, principal: str, route: Route) -> tuple[str, ...]:
        """The identifiers of the counter this call counts on (the store joins them with `/`,
        which is escaped inside them so two different calls never share a key by accident)."""
        parts = list(self.prefix)
        for scope in self.per:
            if scope == "principal":
                value = principal
            else:
                value = route.namespace if scope == "service" else route.subject
            parts.append(value.replace("%", "%25").replace("/", "%2F"))
        return tuple(parts)


class RateLimits:
    """The rules of a config over one store; `check` counts a call or refuses it."""

    def __init__(self, spec: RateLimitsSpec, storage: Storage, recorder: Recorder) -> None:
        self.rules = tuple(Rule(rule, spec.strategy) for rule in spec.rules)
        self.failure_mode = spec.failure_mode
        self.storage = storage
        self.limiter: RateLimiter = STRATEGIES[spec.strategy](storage)
        self.recorder = recorder
        self._warned = -math.inf

    @classmethod
    @asynccontextmanager
    async def open(
        cls, spec: RateLimitsSpec, recorder: Recorder
    ) -> AsyncGenerator[RateLimits | None]:
        """The limits of `spec` over its store, whose connections close when the block ends;
        None when `spec` has no rules (nothing to count, no store to open)."""
        if not spec.rules:
            yield None
            return
        url = spec.storage.removeprefix("async+")
        if url.startswith("memory://"):
            yield cls(spec, MemoryStorage(wrap_exceptions=True), recorder)
            return
        # The pool is the gateway's, so it can close the connections at shutdown (the library
        # never does); redis-py leaves from_url's keyword arguments untyped.
        pool = ConnectionPool.from_url(  # pyright: ignore[reportUnknownMemberType]
            url.replace("redis+unix://", "unix://", 1),
            socket_timeout=spec.timeout,
            socket_connect_timeout=spec.timeout,
        )
        storage = RedisStorage(
            f"async+{url}",
            wrap_exceptions=True,
            implementation="redispy",
            key_prefix=spec.key_prefix,
            # The library documents `connection_pool`; its annotation knows only scalars.
            connection_pool=pool,  # pyright: ignore[reportArgumentType]
        )
        try:
            limits = cls(spec, storage, recorder)
            if not await limits.reachable():
                logger.warning(
                    "the rate-limit store %s cannot be reached now; limited calls %s until it is",
                    _shown(url),
                    "are refused" if spec.failure_mode == "closed" else "pass uncounted",
                )
            yield limits
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await pool.disconnect()

    def reconfigured(self, spec: RateLimitsSpec) -> RateLimits:
        """The rules and strategy of `spec` over this store (a config reload; the store's own
        settings are this one's)."""
        return RateLimits(spec, self.storage, self.recorder)

    @classmethod
    def in_memory(cls, spec: RateLimitsSpec, recorder: Recorder) -> RateLimits | None:
        """The limits of `spec` over a new in-memory store, which needs no opening; None when
        `spec` names another store (opened only at start)."""
        if not spec.storage.removeprefix("async+").startswith("memory://"):
            return None
        return cls(spec, MemoryStorage(wrap_exceptions=True), recorder)

    async def reachable(self) -> bool:
        """Whether the store answers now."""
        try:
            return await self.storage.check()
        except StorageError:
            return False

    async def check(self, ex: Exchange, route: Route) -> None:
        """Count the call on every rule that applies to it.

        Raises:
            RateLimited: a rule's rate is used up; the call was not counted by later rules.
            RateLimitUnavailable: the store cannot be reached and the failure mode is closed.
        """
        principal = ex.client.principal
        assert principal is not None, "the dispatcher authenticates before it routes"
        for rule in self.rules:
            if not rule.applies(principal, route.subject):
                continue
            key = rule.key(principal.name, route)
            for item in rule.items:
                try:
                    allowed = await self.limiter.hit(item, *key)
                except StorageError as exc:
                    self._unreachable(ex, rule, route, exc)
                    return  # failing open: nothing else can be counted either
                if not allowed:
                    retry_after = await self._retry_after(item, key)
                    ex.rate_limit = rule.id
                    self.recorder.on_rate_limited(rule.id, route.namespace)
                    raise RateLimited(
                        f"Rate limit exceeded for {route.subject}: {item}; "
                        f"retry in {retry_after} s",
                        retry_after,
                    )

    async def _retry_after(self, item: RateLimitItem, key: tuple[str, ...]) -> int:
        """Whole seconds until the window lets a call through again (at least 1)."""
        try:
            stats = await self.limiter.get_window_stats(item, *key)
        except StorageError:
            return item.get_expiry()
        return max(1, math.ceil(stats.reset_time - time.time()))

    def _unreachable(self, ex: Exchange, rule: Rule, route: Route, exc: StorageError) -> None:
        closed = self.failure_mode == "closed"
        self.recorder.on_rate_limit_store_error(self.failure_mode)
        now = time.monotonic()
        if now - self._warned >= WARN_EVERY:
            self._warned = now
            logger.warning(
                "rate-limit store unreachable or failing (%s: %s): %s",
                type(exc.storage_error).__name__,
                exc.storage_error,
                "refusing limited calls" if closed else "letting limited calls through uncounted",
            )
        if closed:
            ex.rate_limit = rule.id
            raise RateLimitUnavailable(
                f"Rate limits cannot be checked (their store is unreachable or failing), so "
                f"{route.subject} is refused; try later"
            )


def _shown(url: str) -> str:
    """A store URL for the log, without its password."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
