"""Which services of a manifest get a container of their own, and the manifest that reaches them.

On one machine the gateway starts every stdio service itself. Deployed (compose, Kubernetes),
each example service (`python -m micro_mcp.services.NAME ...` or `micro-mcp service NAME ...`)
runs in a container of its own, serving Streamable HTTP, and the gateway's manifest names it by
URL instead; its gateway-side options (timeouts, bulkhead, breaker, prefix, protocol) stay.
Entries already reached by URL stay as they are. Any other stdio command cannot be turned into a
server by us, so it stays with the gateway, which runs it inside its own container as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from micro_mcp.config.model import Manifest, ServiceSpec
from micro_mcp.config.references import references
from micro_mcp.errors import ConfigError
from micro_mcp.services import EXAMPLES

SERVICE_PORT: Final = 8000
"""The port every service container serves Streamable HTTP on (at `/mcp`)."""
PROCESS_KEYS: Final = frozenset({"type", "command", "args", "env", "cwd", "limits", "sandbox"})
"""Manifest keys that describe a process the gateway starts; a service by URL has none of them."""
URL_MAX_RESTARTS: Final = 100_000
"""`maxRestarts` for a service in a container of its own, unless the manifest sets one: such a
service may not be up yet when the gateway starts (containers start in parallel, a pod may wait
for its node or image), so the gateway keeps trying to connect (every 30 s at most) instead of
giving it up after the 5 tries meant for a child process that crashes on start."""
_TRANSPORT_FLAGS: Final = frozenset({"--http", "--host", "--port"})


@dataclass(frozen=True, slots=True)
class Container:
    """An example service that runs in a container of its own."""

    namespace: str
    """The manifest key, which names the container too."""
    service: str
    """Which example service (`fs`, `http`, `vector`)."""
    args: tuple[str, ...]
    """The service's own arguments, from the manifest."""
    env: Mapping[str, str] = field(default_factory=dict[str, str])
    """The service's environment, from the manifest."""

    def command(self, host: str = "0.0.0.0", port: int = SERVICE_PORT) -> list[str]:
        """The container's command line after the `micro-mcp` entry point."""
        return ["service", self.service, *self.args, "--http", "--host", host, "--port", str(port)]


@dataclass(frozen=True, slots=True)
class Layout:
    """A manifest split into the services that get containers and those the gateway keeps."""

    manifest: Manifest
    containers: tuple[Container, ...]
    notes: tuple[str, ...]
    """What an operator should know about entries that stay with the gateway."""

    def manifest_by_url(self, url_of: Callable[[str], str]) -> dict[str, Any]:
        """The gateway's manifest with each container's entry pointing at `url_of(namespace)`."""
        moved = {c.namespace for c in self.containers}
        servers: dict[str, Any] = {}
        for namespace, spec in self.manifest.mcp_servers.items():
            entry = spec.model_dump(mode="json", by_alias=True, exclude_unset=True)
            if namespace in moved:
                entry = {k: v for k, v in entry.items() if k not in PROCESS_KEYS}
                entry = {"url": url_of(namespace), **entry}
                entry.setdefault("maxRestarts", URL_MAX_RESTARTS)
            servers[namespace] = entry
        return {"mcpServers": servers}


def plan(manifest: Manifest) -> Layout:
    """Split `manifest` for a deployment.

    Raises:
        ConfigError: an entry would put credentials into a ConfigMap (a URL's `headers` in
            clear, not by reference), or an example service's arguments already choose its
            transport.
    """
    containers: list[Container] = []
    notes: list[str] = []
    for namespace, spec in manifest.mcp_servers.items():
        if spec.disabled:
            continue
        if spec.url is not None:
            clear = [key for key, value in spec.headers.items() if not references(value)]
            if clear:
                raise ConfigError(
                    f"mcpServers.{namespace}.headers.{clear[0]}: deployed manifests are not "
                    "secret (a ConfigMap, a file in the image's reach), so a header cannot carry "
                    "a credential in clear; write it as a reference "
                    "(`Bearer ${file:/run/secrets/NAME}`), which the deployment mounts from a "
                    "Secret"
                )
            continue
        example = _example(spec)
        if example is None:
            notes.append(
                f"{namespace}: stdio command {spec.command!r} stays inside the gateway's "
                "container (it must exist in the image); serve it over HTTP and give its "
                "'url' to run it on its own"
            )
            continue
        service, args = example
        if _TRANSPORT_FLAGS.intersection(args):
            raise ConfigError(
                f"mcpServers.{namespace}.args: leave out --http, --host and --port; the "
                f"deployment serves each service on port {SERVICE_PORT} itself"
            )
        ignored = sorted(
            key for key in ("cwd", "limits", "sandbox") if key in spec.model_fields_set
        )
        if ignored:
            notes.append(
                f"{namespace}: {', '.join(ignored)} left out: they shape a process the gateway "
                "starts; a container of its own has its pod's resources and securityContext"
            )
        containers.append(Container(namespace, service, args, dict(spec.env)))
    return Layout(manifest, tuple(containers), tuple(notes))


def _example(spec: ServiceSpec) -> tuple[str, tuple[str, ...]] | None:
    """The example service an entry runs and its own arguments, if it runs one."""
    match spec.command, spec.args:
        case ("python" | "python3", ("-m", module, *rest)) if module.startswith(
            "micro_mcp.services."
        ):
            name = module.removeprefix("micro_mcp.services.")
            return (name, tuple(rest)) if name in EXAMPLES else None
        case ("micro-mcp", ("service", name, *rest)) if name in EXAMPLES:
            return name, tuple(rest)
        case _:
            return None
