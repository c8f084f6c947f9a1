"""The parts every pod of a deployment shares: no privileges, and the only paths it writes."""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]


def container_security(read_only: bool = True) -> Object:
    """No privileges: no escalation, no capabilities, and the root filesystem read-only."""
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only,
        "capabilities": {"drop": ["ALL"]},
    }


def pod_security(user: int) -> Object:
    """Run as `user` (its own group too), never as root, under the runtime's seccomp profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": user,
        "fsGroup": user,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scratch_volumes() -> list[Object]:
    """/tmp in memory and /data on the node: the only paths the image writes."""
    return [
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
    ]


def scratch_mounts() -> list[Object]:
    """The mounts of `scratch_volumes`, where the image expects them."""
    return [{"name": "tmp", "mountPath": "/tmp"}, {"name": "data", "mountPath": "/data"}]


def http_probe(path: str, period: int, failures: int) -> Object:
    """A GET of `path` on the container's port named `http`."""
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }
