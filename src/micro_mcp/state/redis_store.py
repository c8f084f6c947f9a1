"""`RedisStore`: the `Store` on a Redis server that every replica of a deployment names, through
redis-py's asyncio client; and `open_store`, which opens the config's store (or none)."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final, cast

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from micro_mcp.config.state import StateSpec
from micro_mcp.errors import ConfigError, StateUnavailable

logger = logging.getLogger(__name__)

CLOSE_TIMEOUT: Final = 2.0
"""Seconds to close the store's connections at shutdown."""


class RedisStore:
    """A `Store` on Redis: every key under one prefix, lifetimes as Redis expiries (`PX`)."""

    __slots__ = ("_prefix", "_redis", "shown")

    def __init__(self, redis: Redis, prefix: str, shown: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self.shown = shown
        """The server's URL without its password, for messages."""

    @property
    def client(self) -> Redis:
        """The redis-py client, for stores that need more than get/put/add (the pin store's
        scripts); its keys start with `prefix`."""
        return self._redis

    @property
    def prefix(self) -> str:
        """What starts every key of this deployment."""
        return self._prefix

    async def get(self, key: str) -> bytes | None:
        """The value under `key`, or None when there is none (or it expired)."""
        async with self._mapped():
            value = await self._redis.get(self._prefix + key)
        return value.encode() if isinstance(value, str) else value  # bytes: no decode_responses

    async def put(self, key: str, value: bytes, ttl: float | None) -> None:
        """Set `key` to `value` for `ttl` seconds (None: until it is overwritten)."""
        async with self._mapped():
            await self._redis.set(self._prefix + key, value, px=_ms(ttl))

    async def add(self, key: str, value: bytes, ttl: float | None) -> bool:
        """Set `key` only if it holds nothing; False (and nothing changed) if it did."""
        async with self._mapped():
            done = await self._redis.set(self._prefix + key, value, px=_ms(ttl), nx=True)
        return bool(done)

    async def touch(self, key: str, ttl: float) -> bool:
        """Give `key` a new lifetime of `ttl` seconds; False when it holds nothing."""
        async with self._mapped():
            done = await self._redis.pexpire(self._prefix + key, _ms(ttl) or 1)
        return bool(done)

    async def refresh(self, key: str, ttl: float) -> bytes | None:
        """The value under `key`, given a new lifetime of `ttl` seconds; None when none
        (`GETEX`, Redis 6.2 or later)."""
        async with self._mapped():
            value = await self._redis.getex(self._prefix + key, px=_ms(ttl) or 1)  # pyright: ignore[reportUnknownMemberType]
        return value.encode() if isinstance(value, str) else value  # bytes: no decode_responses

    async def delete(self, key: str) -> None:
        """Forget `key` (nothing happens when it holds nothing)."""
        async with self._mapped():
            await self._redis.delete(self._prefix + key)

    async def publish(self, channel: str, message: bytes) -> int:
        """Send `message` to whoever subscribes to `channel` now (at most once, unstored);
        how many subscribers got it."""
        async with self._mapped():
            got = await self._redis.publish(self._prefix + channel, message)  # pyright: ignore[reportUnknownMemberType]
        return int(got)

    async def append(
        self, key: str, value: bytes, keep: int, ttl: float, channel: str | None = None
    ) -> None:
        """Add `value` to the end of the list under `key`, which keeps its last `keep` values
        and lives `ttl` seconds from now; and publish it on `channel` if given: one round trip."""
        name = self._prefix + key
        async with self._mapped(), self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(name, value)  # pyright: ignore[reportUnusedCoroutine, reportUnknownMemberType]
            pipe.ltrim(name, -keep, -1)  # pyright: ignore[reportUnusedCoroutine, reportUnknownMemberType]
            pipe.pexpire(name, _ms(ttl) or 1)  # pyright: ignore[reportUnusedCoroutine]
            if channel is not None:
                pipe.publish(self._prefix + channel, value)  # pyright: ignore[reportUnusedCoroutine, reportUnknownMemberType]
            await pipe.execute()  # pyright: ignore[reportUnknownMemberType]

    async def items(self, key: str) -> list[bytes]:
        """The values of the list under `key`, oldest first (none when there is no list)."""
        async with self._mapped():
            values = await self._redis.lrange(self._prefix + key, 0, -1)  # pyright: ignore[reportUnknownMemberType]
        return [v.encode() if isinstance(v, str) else v for v in values]  # bytes: no decoding

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncGenerator[AsyncIterator[bytes]]:
        """The messages published on `channel` while the block runs, in order, on a connection
        of their own; the iterator raises `StateUnavailable` when that connection breaks."""
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # pyright: ignore[reportUnknownMemberType]
        try:
            async with self._mapped():
                await pubsub.subscribe(self._prefix + channel)  # pyright: ignore[reportUnknownMemberType]
            yield self._messages(pubsub)
        finally:
            with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
                await pubsub.aclose()

    async def _messages(self, pubsub: PubSub) -> AsyncIterator[bytes]:
        """The data of each message `pubsub` receives (its subscription confirmations skipped)."""
        while True:
            async with self._mapped():
                message: Any = await pubsub.get_message(timeout=None)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            match message:
                case {"type": "message", "data": bytes() as data}:
                    yield data
                case _:
                    pass

    async def announce(self, group: str, member: str, value: bytes, ttl: float) -> dict[str, bytes]:
        """Set `member` of `group` to `value` for `ttl` seconds; every live member's value.

        The group is one hash, each field's value prefixed with its expiry (Unix milliseconds,
        by this host's clock: hosts must agree on the time to well within `ttl`); fields past
        theirs are removed as they are read. The hash itself lives `ttl` after the last
        announcement.
        """
        key = self._prefix + group
        now_ms = int(time.time() * 1000)
        entry = b"%d " % (now_ms + int(ttl * 1000)) + value
        async with self._mapped():
            pipe = self._redis.pipeline(transaction=False)
            pipe.hset(key, member, entry)  # pyright: ignore[reportUnknownMemberType]
            pipe.pexpire(key, _ms(ttl) or 1)
            pipe.hgetall(key)  # pyright: ignore[reportUnknownMemberType]
            *_, fields = await pipe.execute()
            return await self._live(key, fields, now_ms)

    async def members(self, group: str) -> dict[str, bytes]:
        """Every live member of `group` and its value."""
        key = self._prefix + group
        async with self._mapped():
            fields = await self._redis.hgetall(key)  # pyright: ignore[reportUnknownMemberType, reportGeneralTypeIssues]
            return await self._live(key, fields, int(time.time() * 1000))

    async def _live(self, key: str, fields: object, now_ms: int) -> dict[str, bytes]:
        """The members of a group's hash whose expiry is after `now_ms`; the others removed."""
        live: dict[str, bytes] = {}
        gone: list[bytes] = []
        for name, stored in cast(dict[bytes, bytes], fields).items():
            expires, _, held = stored.partition(b" ")
            if expires.isdigit() and int(expires) > now_ms:
                live[name.decode(errors="replace")] = held
            else:
                gone.append(name)
        if gone:
            await self._redis.hdel(key, *gone)  # pyright: ignore[reportUnknownMemberType]
        return live

    async def ping(self) -> None:
        """Check that the server answers.

        Raises:
            StateUnavailable: it does not.
        """
        async with self._mapped():
            await self._redis.ping()  # pyright: ignore[reportUnknownMemberType]

    @asynccontextmanager
    async def _mapped(self) -> AsyncGenerator[None]:
        """redis-py's errors become `StateUnavailable`, which a client gets as a clear error."""
        try:
            yield
        except RedisError as exc:
            logger.warning("state store %s failing: %s: %s", self.shown, type(exc).__name__, exc)
            raise StateUnavailable(
                "The gateway's shared state store cannot be reached; try again shortly"
            ) from exc


@asynccontextmanager
async def open_store(spec: StateSpec) -> AsyncGenerator[RedisStore | None]:
    """The config's shared store, its connections closed when the block ends; None when the
    config names none (each replica then keeps its state alone, in memory).

    Raises:
        ConfigError: the store cannot be reached at start (a replica that cannot share its
            state must not serve as if it did).
    """
    if spec.redis is None:
        yield None
        return
    shown = spec.shown()
    # One retry without waiting: after a restart of Redis the pooled connection is dead, the
    # retry reconnects; a server that is down fails the call at once, not after a backoff.
    redis = Redis.from_url(  # pyright: ignore[reportUnknownMemberType]
        spec.redis,
        socket_timeout=spec.timeout,
        socket_connect_timeout=spec.timeout,
        retry=Retry(NoBackoff(), 1),
    )
    try:
        store = RedisStore(redis, spec.key_prefix, shown)
        try:
            await store.ping()
        except StateUnavailable as exc:
            raise ConfigError(
                f"state.redis: {shown} cannot be reached: {exc.__cause__}; the gateway does not "
                "start without the state it shares with its replicas"
            ) from exc
        logger.info("sharing state with other replicas through %s", shown)
        yield store
    finally:
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            await redis.aclose()


def _ms(ttl: float | None) -> int | None:
    """A lifetime in whole milliseconds for `PX` (at least 1: 0 is an error to Redis)."""
    return None if ttl is None else max(1, int(ttl * 1000))
