"""The only way the http service opens a socket: resolve once, check, connect to what was checked.

httpx2 sends every request through an httpcore2 connection pool, and the pool opens its
connections through a network backend. `GuardedBackend` is that backend: for each connection
it resolves the host (one lookup), refuses the connection if any resolved address is refused
by the `AddressPolicy`, and otherwise connects to those same addresses. The pool still
starts TLS with the host *name*, so the Host header, SNI and certificate checks stay on the
name while the TCP connection goes to the pinned address. A redirect to another host opens a
new connection, so it passes through here again; no connection can skip the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from ssl import SSLContext
from typing import TypeAlias

import httpcore2
import httpx2

from micro_mcp.services.http.addresses import AddressPolicy
from micro_mcp.services.http.errors import AddressRefused, FetchError
from micro_mcp.services.http.host import IPAddress, literal_address
from micro_mcp.services.http.resolver import Resolver

_SocketOption: TypeAlias = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class GuardedBackend(httpcore2.AsyncNetworkBackend):
    """Connects only to resolved addresses that the policy admits."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver,
        inner: httpcore2.AsyncNetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        # Typed as the base class: httpcore2 declares a stand-in AnyIOBackend for when anyio
        # is missing, which hides the real class's methods from the type checker.
        default: httpcore2.AsyncNetworkBackend = httpcore2.AnyIOBackend()  # pyright: ignore[reportAssignmentType]
        self._inner = inner or default

    async def checked_addresses(self, host: str) -> list[IPAddress]:
        """Resolve `host` once and return its addresses if every one of them is allowed.

        One refused address refuses the host: a name that answers both a public and an
        internal address is an attempt to get past the check, not a mirror to fall back on.

        Raises:
            AddressRefused: An address of `host` is refused by the policy.
            FetchError: `host` is malformed or does not resolve.
        """
        name = host.lower().removesuffix(".")
        literal = literal_address(name)
        addresses = [literal] if literal is not None else list(await self._resolver.resolve(name))
        if not addresses:
            raise FetchError(f"host {name!r} does not resolve to any address")
        for address in addresses:
            why = self._policy.refusal(address, literal=literal is not None)
            if why is not None:
                shown = "" if literal is not None else f" resolves to {address}, which"
                raise AddressRefused(
                    f"host {name!r}{shown} is {why}: connections there are refused"
                    " (allow a network with --allow-net to permit it)"
                )
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        """Connect to the first checked address of `host` that accepts."""
        failure: Exception | None = None
        for address in await self.checked_addresses(host):
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        """Refuse: the service fetches over TCP only."""
        raise FetchError("unix sockets are never connected to")

    async def sleep(self, seconds: float) -> None:
        """Sleep as the wrapped backend does (the pool's retry back-off)."""
        await self._inner.sleep(seconds)


class GuardedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's HTTP/1.1 transport with its connections opened by a `GuardedBackend`."""

    def __init__(self, backend: GuardedBackend, ssl_context: SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx2 takes no network backend, so the pool it built is replaced by one that takes
        # ours; everything else (request mapping, error mapping, streaming) is httpx2's own.
        self._pool = httpcore2.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend)


@cache
def default_ssl_context() -> SSLContext:
    """The system's trust store, loaded once: loading it takes tens of milliseconds."""
    return httpx2.create_ssl_context(trust_env=False)
