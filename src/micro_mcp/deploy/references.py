"""A manifest's `${env:NAME}` and `${file:PATH}` references as keys of one Kubernetes Secret.

The rendered objects hold references only, never a value: the manifest (a ConfigMap) keeps its
`${...}` text, and the operator creates the Secret (`--credentials-secret`, default
`<name>-credentials`) with a key per reference: `NAME` for `${env:NAME}`, the file's name for
`${file:/run/secrets/NAME}`. The gateway's container gets each variable its entries use from
the Secret (`secretKeyRef`) and each folder of referenced files as a volume of that Secret
holding those keys, so a rotated Secret reaches the file (and, on SIGHUP, the service) without
a new pod. A service in a container of its own gets its `env` the same way: a value that is one
whole reference from the Secret, literal text as it is.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from micro_mcp.config.references import Reference, parse, references
from micro_mcp.deploy.layout import Container, Layout
from micro_mcp.errors import ConfigError

Object = dict[str, Any]

_KEY: Final = re.compile(r"^[-._a-zA-Z0-9]+$")
"""What Kubernetes allows as a Secret key."""


@dataclass(frozen=True, slots=True)
class Needs:
    """What the gateway's own container must find: variables and files, sorted."""

    env: tuple[str, ...] = ()
    files: tuple[str, ...] = ()

    def keys(self) -> list[str]:
        """The Secret's keys these need, for the operator."""
        return sorted({*self.env, *(posixpath.basename(path) for path in self.files)})


def gateway_needs(layout: Layout, reserved: Iterable[str] = ()) -> Needs:
    """The references of the entries the gateway runs or reaches itself (headers, and the env
    of stdio services that stay in its container).

    Raises:
        ConfigError: a file reference is relative, names a folder the pod already mounts
            (`reserved`), or two files in different folders share a name (one Secret key).
    """
    moved = {container.namespace for container in layout.containers}
    env: set[str] = set()
    files: dict[str, str] = {}
    taken = set(reserved)
    for namespace, spec in layout.manifest.mcp_servers.items():
        if spec.disabled:
            continue
        values = [(f"headers.{k}", v) for k, v in spec.headers.items()]
        if spec.auth is not None:
            values.append(("auth.clientSecret", spec.auth.client_secret))
        if namespace not in moved:
            values += [(f"env.{k}", v) for k, v in spec.env.items()]
        for key, value in values:
            for reference in references(value):
                where = f"mcpServers.{namespace}.{key}: {reference}"
                if reference.kind == "env":
                    env.add(reference.target)
                    continue
                path = reference.target
                name, folder = posixpath.basename(path), posixpath.dirname(path)
                if not posixpath.isabs(path) or not _KEY.match(name):
                    raise ConfigError(
                        f"{where}: deployed, a file reference is an absolute path ending in a "
                        "Secret key (`${file:/run/secrets/api-token}`)"
                    )
                if folder in taken:
                    raise ConfigError(f"{where}: {folder} is already mounted in the gateway pod")
                other = files.get(name)
                if other is not None and other != path:
                    raise ConfigError(f"{where}: {other} has the same name, one Secret key")
                files[name] = path
    return Needs(tuple(sorted(env)), tuple(sorted(files.values())))


def secret_keys(layout: Layout, reserved: Iterable[str] = ()) -> list[str]:
    """Every key the credentials Secret needs: the gateway's and its service containers'.

    Raises:
        ConfigError: as `gateway_needs` and `container_env`.
    """
    keys = set(gateway_needs(layout, reserved).keys())
    for container in layout.containers:
        for variable in container_env("", container):
            found = variable.get("valueFrom", {}).get("secretKeyRef", {}).get("key")
            if found is not None:
                keys.add(found)
    return sorted(keys)


def gateway_env(secret: str, needs: Needs) -> list[Object]:
    """The gateway container's variables, each from the Secret."""
    return [_from_secret(secret, name, name) for name in needs.env]


def gateway_volumes(secret: str, needs: Needs) -> tuple[list[Object], list[Object]]:
    """The gateway container's mounts and the pod's volumes: a volume of the Secret for each
    folder of referenced files, holding just their keys."""
    folders: dict[str, list[str]] = {}
    for path in needs.files:
        folders.setdefault(posixpath.dirname(path), []).append(posixpath.basename(path))
    mounts: list[Object] = []
    volumes: list[Object] = []
    for index, (folder, names) in enumerate(sorted(folders.items())):
        volume = f"credentials-{index}"
        mounts.append({"name": volume, "mountPath": folder, "readOnly": True})
        items = [{"key": name, "path": name} for name in names]
        volumes.append(
            {
                "name": volume,
                "secret": {"secretName": secret, "items": items, "defaultMode": 0o440},
            }
        )
    return mounts, volumes


def container_env(secret: str, container: Container) -> list[Object]:
    """A service container's variables: literal text as written, a whole reference from the
    Secret (`${env:NAME}` from key NAME, `${file:PATH}` from the key named like the file).

    Raises:
        ConfigError: a reference embedded in other text, which Kubernetes cannot spell.
    """
    return [
        _variable(secret, container.namespace, name, value)
        for name, value in sorted(container.env.items())
    ]


def _variable(secret: str, namespace: str, name: str, value: str) -> Object:
    match parse(value):
        case (Reference(kind="env", target=key),):
            return _from_secret(secret, name, key)
        case (Reference(kind="file", target=path),) if _KEY.match(posixpath.basename(path)):
            return _from_secret(secret, name, posixpath.basename(path))
        case parts if any(isinstance(part, Reference) for part in parts):
            raise ConfigError(
                f"mcpServers.{namespace}.env.{name}: in a container of its own, a value is "
                "literal text or one whole reference (`${env:NAME}`), not both"
            )
        case _:
            return {"name": name, "value": value}


def _from_secret(secret: str, name: str, key: str) -> Object:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
