"""`RedisPinStore`: the pin store in Redis, for gateway replicas that share approvals
(`state.redis`), so an approval given through one replica (`micro-mcp approve`, the admin page)
holds on all of them.

Three keys under the deployment's prefix:

    pins:approved   hash: field `["ns","kind","name"]` -> `["sha256 hex","canonical body"]`
    pins:held       hash: the same, for what the replicas hold back now
    pins:version    counter: raised whenever the approvals change; replicas poll it

`record` and `approve` are Lua scripts, so each is one atomic step however many replicas
write at once. `load` checks every record as the SQLite store does (kind known, digest that of
the body): an edited or damaged entry is a `PinStoreError` naming the key, never an empty store.
Redis failing is a `PinStoreError` too.

The `PinStore` methods block like the SQLite store's, and like them are called in a worker
thread (`anyio.to_thread`): they run the redis-py asyncio client of `state.redis_store` (the
one connection setup) on the event loop through `anyio.from_thread`. `version` is a coroutine,
for the gateway's poller.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import anyio.from_thread
import orjson
from redis.exceptions import RedisError

from micro_mcp.errors import PinStoreError
from micro_mcp.registry.pin_store import Pins, checked
from micro_mcp.registry.pins import Key, Pin
from micro_mcp.state.redis_store import RedisStore

_T = TypeVar("_T")

APPROVED: Final = "pins:approved"
HELD: Final = "pins:held"
VERSION: Final = "pins:version"

_RECORD: Final = """
local added = 0
local first = tonumber(ARGV[2])
for i = 3, 2 + 2 * first, 2 do
  added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1])
end
local mine = ARGV[1]
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(field, 1, #mine) == mine then redis.call('HDEL', KEYS[2], field) end
end
for i = 3 + 2 * first, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
if added > 0 then redis.call('INCR', KEYS[3]) end
return added
"""
"""KEYS: approved, held, version. ARGV: the namespace's field prefix, the count of first-seen
approvals, then (field, value) pairs: those approvals, then what is held now."""

_APPROVE: Final = """
local done = {}
for _, field in ipairs(ARGV) do
  local new = redis.call('HGET', KEYS[2], field)
  if new then
    local old = redis.call('HGET', KEYS[1], field)
    redis.call('HSET', KEYS[1], field, new)
    redis.call('HDEL', KEYS[2], field)
    table.insert(done, {field, old or '', new})
  end
end
if #done > 0 then redis.call('INCR', KEYS[3]) end
return done
"""
"""KEYS: approved, held, version. ARGV: the fields to approve. Returns (field, previously
approved or '', now approved) for each held one."""


def field(key: Key) -> bytes:
    """The hash field of a pin's key."""
    return orjson.dumps(list(key))


def value(pin: Pin) -> bytes:
    """The hash value of a pin: its digest and body."""
    return orjson.dumps([pin.digest, pin.body])


def namespace_prefix(namespace: str) -> bytes:
    """What every field of `namespace` starts with (namespaces need no JSON escaping)."""
    return field((namespace, "", ""))[: -len(b',"",""]')] + b","


def decoded(where: str, table: str, raw_field: bytes, raw_value: bytes) -> Pin:
    """One hash entry as a checked `Pin`.

    Raises:
        PinStoreError: it is not what this store writes, or fails the digest check.
    """
    try:
        key: object = orjson.loads(raw_field)
        body: object = orjson.loads(raw_value)
    except orjson.JSONDecodeError:
        key = body = None
    match key, body:
        case [str() as namespace, str() as kind, str() as name], [str() as digest, str() as text]:
            return checked(where, table, (namespace, kind, name, digest, text))
        case _:
            raise PinStoreError(
                f"pin store {where}: an entry in {table!r} is not a pin ({raw_field[:80]!r}): "
                "the store was edited or is damaged; restore it from a backup, or delete the "
                f"key to approve every definition anew"
            )


class RedisPinStore:
    """Pins in Redis under the deployment's key prefix (see the module docstring)."""

    def __init__(self, store: RedisStore) -> None:
        self._redis = store.client
        self._keys = [store.prefix + APPROVED, store.prefix + HELD, store.prefix + VERSION]
        self._shown = f"{store.shown} ({store.prefix}pins:*)"
        self._record: Any = self._redis.register_script(_RECORD)  # pyright: ignore[reportUnknownMemberType]
        self._approve: Any = self._redis.register_script(_APPROVE)  # pyright: ignore[reportUnknownMemberType]

    def describe(self) -> str:
        """The server and keys."""
        return self._shown

    def load(self) -> Pins:
        """Everything in the store, each record checked."""
        return self._blocking(self.load_async)

    def record(self, namespace: str, approved: Sequence[Pin], held: Sequence[Pin]) -> None:
        """Add first-seen approvals; replace the service's held definitions."""
        self._blocking(self.record_async, namespace, approved, held)

    def approve(self, keys: Iterable[Key]) -> list[tuple[Pin | None, Pin]]:
        """Approve the held definitions of `keys`, in one atomic step."""
        return self._blocking(self.approve_async, list(keys))

    async def load_async(self) -> Pins:
        """`load`, on the event loop."""
        async with self._mapped(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._keys[0])  # pyright: ignore[reportUnknownMemberType]
            pipe.hgetall(self._keys[1])  # pyright: ignore[reportUnknownMemberType]
            approved, held = await pipe.execute()  # pyright: ignore[reportUnknownMemberType]
        return Pins(self._decoded(APPROVED, approved), self._decoded(HELD, held))

    async def record_async(
        self, namespace: str, approved: Sequence[Pin], held: Sequence[Pin]
    ) -> None:
        """`record`, on the event loop."""
        args: list[bytes | int] = [namespace_prefix(namespace), len(approved)]
        for pin in [*approved, *held]:
            args += [field(pin.key), value(pin)]
        async with self._mapped():
            await self._record(keys=self._keys, args=args)

    async def approve_async(self, keys: Sequence[Key]) -> list[tuple[Pin | None, Pin]]:
        """`approve`, on the event loop."""
        async with self._mapped():
            rows: list[list[bytes]] = await self._approve(
                keys=self._keys, args=[field(key) for key in keys]
            )
        done: list[tuple[Pin | None, Pin]] = []
        for raw_field, old, new in rows:
            before = decoded(self._shown, APPROVED, raw_field, old) if old else None
            done.append((before, decoded(self._shown, HELD, raw_field, new)))
        return done

    async def version(self) -> int:
        """How many times the approvals changed; replicas poll it to see another's approval.

        Raises:
            PinStoreError: Redis cannot be reached.
        """
        async with self._mapped():
            raw = await self._redis.get(self._keys[2])
        try:
            return int(raw or 0)
        except ValueError as exc:
            raise PinStoreError(f"pin store {self._shown}: {VERSION} is not a number") from exc

    def _decoded(self, table: str, entries: dict[bytes, bytes]) -> dict[Key, Pin]:
        pins = [decoded(self._shown, table, f, v) for f, v in entries.items()]
        return {pin.key: pin for pin in pins}

    def _blocking(self, func: Callable[..., Coroutine[Any, Any, _T]], *args: Any) -> _T:
        """Run `func` on the event loop from the worker thread the caller runs in (anyio raises
        RuntimeError elsewhere: a programming error, not a store failure)."""
        return anyio.from_thread.run(func, *args)

    @asynccontextmanager
    async def _mapped(self) -> AsyncGenerator[None]:
        try:
            yield
        except RedisError as exc:
            raise PinStoreError(
                f"pin store {self._shown}: cannot be used ({type(exc).__name__}: {exc}); "
                "approvals cannot be read or written until Redis answers again"
            ) from exc
