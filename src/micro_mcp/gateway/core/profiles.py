"""Which profile a client sees: the one it connected through (`/mcp/p/NAME`, `--profile`),
else its principal's default one, else none (the whole catalog); resolved against the services'
tags once per catalog snapshot.

A principal held to profiles (`profile` / `profiles` in the config) sees its first on `/mcp`
and may connect through no other. Policy and rules still apply inside a profile; an item
outside it is unknown to the client, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from micro_mcp.config.profiles import ProfileSpec
from micro_mcp.errors import PolicyDenied
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.model import Principal
from micro_mcp.registry import profiles
from micro_mcp.registry.profiles import Profile


class Profiles:
    """The config's profiles as they apply to clients now."""

    __slots__ = ("_generation", "_mesh", "_resolved", "specs")

    def __init__(self, specs: Mapping[str, ProfileSpec], mesh: Mesh) -> None:
        self.specs = dict(specs)
        self._mesh = mesh
        self._generation = -1
        self._resolved: dict[str, Profile] = {}

    def resolved(self) -> dict[str, Profile]:
        """Every profile, against the tags of the services of the current snapshot."""
        generation = self._mesh.catalog.generation
        if generation != self._generation:
            tags = {ns: service.spec.tags for ns, service in self._mesh.services.items()}
            self._resolved = profiles.resolve(self.specs, tags)
            self._generation = generation
        return self._resolved

    def admits(self, principal: Principal, name: str | None) -> bool:
        """Whether `principal` may connect through profile `name` (None: `/mcp` itself)."""
        if name is None:
            return True
        assigned = principal.policy.profiles
        return name in self.specs and (not assigned or name in assigned)

    def of(self, client: ClientSession) -> Profile | None:
        """The profile `client` sees now; None: the whole catalog.

        Raises:
            PolicyDenied: the client connected through a profile its principal is no longer
                held to (a config reload changed it).
        """
        principal = client.principal
        assigned = principal.policy.profiles if principal is not None else ()
        name = client.profile
        if name is None:
            if not assigned:
                return None
            name = assigned[0]
        elif assigned and name not in assigned:
            raise PolicyDenied(f"Denied: profile {name!r} is not assigned to this caller")
        profile = self.resolved().get(name)
        if profile is None:  # assigned by a reloaded config; new profiles take a restart
            raise PolicyDenied(f"Denied: profile {name!r} is not served (restart to add it)")
        return profile

    def may_see(self, client: ClientSession, namespace: str) -> bool:
        """Whether a change of `namespace`'s lists may concern `client` (false only when its
        profile cannot hold any item of that service)."""
        try:
            profile = self.of(client)
        except PolicyDenied:
            return False
        return profile is None or profile.may_hold(namespace)
