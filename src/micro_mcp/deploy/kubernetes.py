"""Kubernetes objects for a gateway and its services, rendered from a discovery manifest.

Plain dicts, one per object, in the order `kubectl apply` should meet them: the manifest as a
ConfigMap, the gateway (Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget), each
service in a container of its own (Deployment, Service, and a NetworkPolicy that admits only
the gateway), and Redis for what replicas share (rate-limit counters today). The gateway's
config holds tokens, so it is never rendered: the Deployment mounts a Secret by name, which the
operator creates; so are the services' credentials, which the manifest names by reference
(`deploy/references.py` maps them to keys of a second Secret).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final

from micro_mcp.deploy import pod, references
from micro_mcp.deploy.layout import SERVICE_PORT, Container, Layout
from micro_mcp.errors import ConfigError

Object = pod.Object

GATEWAY_PORT: Final = 8765
"""The gateway's Streamable HTTP port, in the pod and on its Service."""
REDIS_PORT: Final = 6379
USER_ID: Final = 10001
"""The image's non-root user and group (see the Dockerfile)."""
REDIS_IMAGE: Final = "redis:7.4-alpine"
REDIS_USER_ID: Final = 999
"""The `redis` user of the official Redis image."""
DISCOVERY_DIR: Final = "/etc/micro-mcp/discovery"
CONFIG_DIR: Final = "/etc/micro-mcp/config"
PINS_FILE: Final = "/data/pins.sqlite"
"""The gateway's pin store, on the pod's /data volume (lost with the pod: approvals are taken
again on first sight, unless a persistent volume is mounted there)."""
DISCOVERY_KEY: Final = "discovery.json"
CONFIG_KEY: Final = "gateway.json"
"""The key of the gateway config inside the operator's Secret."""
_DNS_LABEL: Final = re.compile(r"^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$")
_NAMESPACE: Final = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_SECRET: Final = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Options:
    """What the operator chooses beyond the manifest."""

    image: str
    name: str = "micro-mcp"
    """Prefix of every object's name, and its `app.kubernetes.io/instance` label."""
    namespace: str = "micro-mcp"
    config_secret: str | None = None
    """The Secret holding the gateway config under `gateway.json`; default `<name>-config`."""
    credentials_secret: str | None = None
    """The Secret holding what the manifest's `${env:...}` and `${file:...}` references name;
    default `<name>-credentials`."""
    replicas: int = 1
    """Gateway replicas; more than one serves 2026-07-28 clients only, until sessions are shared."""
    max_replicas: int = 1
    """The autoscaler's ceiling for the gateway."""
    redis_image: str = REDIS_IMAGE
    redis: bool = True

    def __post_init__(self) -> None:
        if not _DNS_LABEL.match(self.name):
            raise ConfigError(
                f"--name {self.name!r}: use up to 24 characters of a-z, 0-9 and '-', starting "
                "with a letter (object names add a service's namespace to it)"
            )
        if not _NAMESPACE.match(self.namespace):
            raise ConfigError(
                f"--namespace {self.namespace!r}: use up to 63 characters of a-z, 0-9 and '-'"
            )
        if not _SECRET.match(self.secret):
            raise ConfigError(f"--config-secret {self.secret!r}: not a valid Secret name")
        if not _SECRET.match(self.credentials):
            raise ConfigError(f"--credentials-secret {self.credentials!r}: not a valid Secret name")
        if self.replicas < 1 or self.max_replicas < self.replicas:
            raise ConfigError("--replicas must be at least 1 and at most --max-replicas")

    @property
    def secret(self) -> str:
        """The name of the gateway config's Secret."""
        return self.config_secret or f"{self.name}-config"

    @property
    def credentials(self) -> str:
        """The name of the services' credentials Secret."""
        return self.credentials_secret or f"{self.name}-credentials"


RESERVED_FOLDERS: Final = (DISCOVERY_DIR, CONFIG_DIR, "/tmp", "/data")
"""What the gateway pod mounts already; a referenced file cannot live there."""


def render(layout: Layout, options: Options) -> list[Object]:
    """Every object of the deployment, in apply order.

    Raises:
        ConfigError: a reference that cannot be mapped to the credentials Secret.
    """
    discovery = json.dumps(
        layout.manifest_by_url(lambda ns: service_url(options, ns)), indent=2, sort_keys=True
    )
    needs = references.gateway_needs(layout, RESERVED_FOLDERS)
    objects: list[Object] = [
        _config_map(options, discovery),
        _gateway_deployment(options, discovery, needs),
        _service(options, "gateway", GATEWAY_PORT),
        _autoscaler(options),
        _disruption_budget(options),
    ]
    for container in layout.containers:
        component = _service_component(container.namespace)
        objects += [
            _service_deployment(options, container),
            _service(options, component, SERVICE_PORT),
            _gateway_only(options, component, SERVICE_PORT),
        ]
    if options.redis:
        objects += [
            _redis_deployment(options),
            _service(options, "redis", REDIS_PORT),
            _gateway_only(options, "redis", REDIS_PORT),
        ]
    return objects


def redis_url(options: Options) -> str:
    """The in-cluster URL of the deployment's Redis, for `rateLimits.storage`."""
    return f"redis://{_name(options, 'redis')}.{options.namespace}.svc:{REDIS_PORT}/0"


def service_url(options: Options, namespace: str) -> str:
    """The in-cluster URL at which the gateway reaches a service's container."""
    host = f"{_name(options, _service_component(namespace))}.{options.namespace}.svc"
    return f"http://{host}:{SERVICE_PORT}/mcp"


def selector(options: Options, component: str) -> dict[str, str]:
    """The labels that select one component's pods."""
    return {"app.kubernetes.io/instance": options.name, "app.kubernetes.io/component": component}


def _service_component(namespace: str) -> str:
    return f"service-{namespace}"


def _name(options: Options, component: str) -> str:
    return f"{options.name}-{component.removeprefix('service-')}"


def _labels(options: Options, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "micro-mcp",
        "app.kubernetes.io/part-of": "micro-mcp",
        "app.kubernetes.io/managed-by": "micro-mcp-deploy",
        **selector(options, component),
    }


def _metadata(options: Options, component: str, name: str | None = None) -> Object:
    return {
        "name": name or _name(options, component),
        "namespace": options.namespace,
        "labels": _labels(options, component),
    }


def _config_map(options: Options, discovery: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(options, "gateway", f"{options.name}-discovery"),
        "data": {DISCOVERY_KEY: discovery},
    }


def _deployment(options: Options, component: str, replicas: int, pod_spec: Object) -> Object:
    annotations = pod_spec.pop("annotations", None)
    template_metadata: Object = {"labels": _labels(options, component)}
    if annotations:
        template_metadata["annotations"] = annotations
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(options, component),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector(options, component)},
            # A new pod is ready before an old one goes, so a rollout never drops to none.
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "template": {"metadata": template_metadata, "spec": pod_spec},
        },
    }


def _gateway_deployment(options: Options, discovery: str, needs: references.Needs) -> Object:
    mounts, volumes = references.gateway_volumes(options.credentials, needs)
    container: Object = {
        "name": "gateway",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": [
            "gateway",
            "--transport",
            "http",
            "--host",
            "0.0.0.0",
            "--port",
            str(GATEWAY_PORT),
            "--discovery",
            f"{DISCOVERY_DIR}/{DISCOVERY_KEY}",
            "--config",
            f"{CONFIG_DIR}/{CONFIG_KEY}",
            "--log-format",
            "json",
            # Approved tool definitions: the manifest's folder is a read-only ConfigMap.
            "--pins",
            PINS_FILE,
        ],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        # /readyz turns 200 once the services' first start is over (503 before), and stays
        # 200 while single services are down, so one bad service does not take the rest out.
        "readinessProbe": pod.http_probe("/readyz", 5, 3),
        "livenessProbe": pod.http_probe("/healthz", 10, 3),
        "startupProbe": pod.http_probe("/healthz", 2, 30),
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": pod.container_security(),
        "volumeMounts": [
            {"name": "discovery", "mountPath": DISCOVERY_DIR, "readOnly": True},
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            *pod.scratch_mounts(),
            *mounts,
        ],
    }
    if needs.env:
        container["env"] = references.gateway_env(options.credentials, needs)
    pod_spec: Object = {
        # Restart the gateway when the manifest changes, rather than wait for the kubelet to
        # refresh the mounted file.
        "annotations": {
            "micro-mcp/discovery-sha256": hashlib.sha256(discovery.encode()).hexdigest()
        },
        "automountServiceAccountToken": False,
        "securityContext": pod.pod_security(USER_ID),
        # The first SIGTERM drains calls in flight; give them time before the SIGKILL.
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": [
            {"name": "discovery", "configMap": {"name": f"{options.name}-discovery"}},
            {
                "name": "config",
                "secret": {
                    "secretName": options.secret,
                    "items": [{"key": CONFIG_KEY, "path": CONFIG_KEY}],
                    "defaultMode": 0o440,
                },
            },
            *pod.scratch_volumes(),
            *volumes,
        ],
    }
    return _deployment(options, "gateway", options.replicas, pod_spec)


def _service_deployment(options: Options, service: Container) -> Object:
    tcp = {"tcpSocket": {"port": "http"}, "periodSeconds": 5, "timeoutSeconds": 3}
    container: Object = {
        "name": service.namespace,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "args": service.command(),
        "workingDir": "/data",
        "ports": [{"name": "http", "containerPort": SERVICE_PORT, "protocol": "TCP"}],
        "readinessProbe": tcp,
        "livenessProbe": {**tcp, "periodSeconds": 10, "failureThreshold": 3},
        "resources": {
            "requests": {"cpu": "50m", "memory": "96Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": pod.container_security(),
        "volumeMounts": pod.scratch_mounts(),
    }
    if service.env:
        container["env"] = references.container_env(options.credentials, service)
    pod_spec: Object = {
        "automountServiceAccountToken": False,
        "securityContext": pod.pod_security(USER_ID),
        "containers": [container],
        "volumes": pod.scratch_volumes(),
    }
    return _deployment(options, _service_component(service.namespace), 1, pod_spec)


def _redis_deployment(options: Options) -> Object:
    container: Object = {
        "name": "redis",
        "image": options.redis_image,
        "imagePullPolicy": "IfNotPresent",
        # No snapshots: rate-limit windows are short-lived, and a restart only forgets counts
        # (DEPLOY.md says how to keep daily quotas). Protected mode is off since only the
        # gateway can connect (its NetworkPolicy).
        "args": ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "readinessProbe": {
            "exec": {"command": ["redis-cli", "ping"]},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
        },
        "livenessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10},
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": pod.container_security(),
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    pod_spec: Object = {
        "automountServiceAccountToken": False,
        "securityContext": pod.pod_security(REDIS_USER_ID),
        "containers": [container],
        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    return _deployment(options, "redis", 1, pod_spec)


def _service(options: Options, component: str, port: int) -> Object:
    port_name = "redis" if component == "redis" else "http"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(options, component),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(options, component),
            "ports": [
                {"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}
            ],
        },
    }


def _gateway_only(options: Options, component: str, port: int) -> Object:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(options, component),
        "spec": {
            "podSelector": {"matchLabels": selector(options, component)},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": selector(options, "gateway")}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            ],
        },
    }


def _autoscaler(options: Options) -> Object:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(options, "gateway"),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": _name(options, "gateway"),
            },
            "minReplicas": options.replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }


def _disruption_budget(options: Options) -> Object:
    # maxUnavailable rather than minAvailable: with one replica, minAvailable 1 would block
    # every node drain for good.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(options, "gateway"),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(options, "gateway")}},
    }
