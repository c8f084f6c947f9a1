"""The connected clients: who is there to notify, and what to free when one leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from micro_mcp.gateway.clients.client import ClientSession


class Clients:
    """The clients connected now, over every front."""

    __slots__ = ("_clients", "_on_release")

    def __init__(self) -> None:
        self._clients: set[ClientSession] = set()
        self._on_release: list[Callable[[ClientSession], None]] = []

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[ClientSession]:
        return iter(list(self._clients))  # a copy: sending may let a client leave meanwhile

    def add(self, client: ClientSession) -> None:
        """A client connected."""
        self._clients.add(client)

    def release(self, client: ClientSession) -> None:
        """A client left: forget it, and free what was kept for it alone."""
        self._clients.discard(client)
        client.close("the client left")
        for hook in self._on_release:
            hook(client)

    def on_release(self, hook: Callable[[ClientSession], None]) -> None:
        """Call `hook` with every client that leaves."""
        self._on_release.append(hook)

    def sole(self) -> ClientSession | None:
        """The only client, when there is exactly one."""
        return next(iter(self._clients)) if len(self._clients) == 1 else None
