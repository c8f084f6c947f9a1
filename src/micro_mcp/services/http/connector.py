"""The only way the http service opens a socket: resolve once, check, connect to what was checked.

`AddressGuard` resolves a host (one lookup) and refuses it if any resolved address is refused by
the `AddressPolicy`. `GuardedTransport` sends each request through it, by httpx2's public means
only: the request goes to the URL with the host replaced by a checked address, its `Host`
header keeps the name, and the `sni_hostname` extension makes TLS send and verify the name; so
the TCP connection goes to the pinned address while the Host header, SNI and certificate checks
stay on the name. Each host name gets a connection pool of its own, so a connection verified
for one name never carries a request for another (a redirect to a second name on the same
address opens a new one). A redirect to another host is a new request, so it passes through
here again; no connection can skip the check.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from ssl import SSLContext

import httpx2

from micro_mcp.services.http.addresses import AddressPolicy
from micro_mcp.services.http.errors import AddressRefused, FetchError
from micro_mcp.services.http.host import IPAddress, literal_address
from micro_mcp.services.http.resolver import Resolver


class AddressGuard:
    """Resolves hosts and admits only addresses that the policy allows."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver) -> None:
        self._policy = policy
        self._resolver = resolver

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


class GuardedTransport(httpx2.AsyncBaseTransport):
    """Sends each request to a checked address of its host, with the name kept for the Host
    header, SNI and the certificate check."""

    def __init__(
        self,
        guard: AddressGuard,
        ssl_context: SSLContext,
        connect: Callable[[SSLContext], httpx2.AsyncBaseTransport] | None = None,
    ) -> None:
        self._guard = guard
        self._ssl_context = ssl_context
        self._connect = connect or _http_transport
        self._pools: dict[str, httpx2.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` to the first checked address of its host that accepts a connection.

        Raises:
            AddressRefused: An address of the host is refused by the policy.
            FetchError: The host is malformed or does not resolve.
            httpx2.HTTPError: Every address failed (the last failure).
        """
        name = request.url.raw_host.decode("ascii").lower().removesuffix(".")
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = self._connect(self._ssl_context)
        failure: httpx2.HTTPError | None = None
        for address in await self._guard.checked_addresses(name):
            pinned = httpx2.Request(
                request.method,
                request.url.copy_with(host=str(address)),
                headers=request.headers,  # with the Host header httpx2 set from the name
                stream=request.stream,
                extensions={**request.extensions, "sni_hostname": name},
            )
            try:
                return await pool.handle_async_request(pinned)
            except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # checked_addresses never returns an empty list
        raise failure

    async def aclose(self) -> None:
        """Close every host's pool."""
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


def _http_transport(ssl_context: SSLContext) -> httpx2.AsyncBaseTransport:
    return httpx2.AsyncHTTPTransport(verify=ssl_context, trust_env=False)


@cache
def default_ssl_context() -> SSLContext:
    """The system's trust store, loaded once: loading it takes tens of milliseconds."""
    return httpx2.create_ssl_context(trust_env=False)
