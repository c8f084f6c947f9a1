"""Kubernetes objects rendered from a manifest: valid by the Kubernetes schemas, and wired up
(selectors, ports, mounts, policies) so that what refers to something finds it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import kubernetes_validate
import pytest
import yaml

from micro_mcp.config.load import load_manifest
from micro_mcp.config.model import Manifest
from micro_mcp.deploy import kubernetes
from micro_mcp.deploy.documents import yaml_stream
from micro_mcp.deploy.layout import SERVICE_PORT, plan
from micro_mcp.errors import ConfigError

K8S_VERSION = "1.37.0"
"""The newest schema set kubernetes-validate ships; strict: unknown fields are errors too."""
OPTIONS = kubernetes.Options(image="registry.example/micro-mcp:1.2.3", namespace="tools")


def rendered(options: kubernetes.Options = OPTIONS, **servers: Any) -> list[dict[str, Any]]:
    manifest = (
        Manifest.model_validate({"mcpServers": servers}) if servers else load_manifest(None)[0]
    )
    return kubernetes.render(plan(manifest), options)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def containers(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    ]


def test_every_object_passes_the_kubernetes_schemas_strictly() -> None:
    objects = rendered()
    # Through YAML and back, as kubectl would read it.
    reread = list(yaml.safe_load_all(yaml_stream(objects)))

    assert reread == objects
    for obj in reread:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_the_schema_check_is_live_a_misspelt_field_fails_it() -> None:
    deployment = find(rendered(), "Deployment", "micro-mcp-gateway")
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_the_example_manifest_gives_the_gateway_each_service_and_redis() -> None:
    kinds = [(o["kind"], o["metadata"]["name"]) for o in rendered()]

    assert kinds == [
        ("ConfigMap", "micro-mcp-discovery"),
        ("Deployment", "micro-mcp-gateway"),
        ("Service", "micro-mcp-gateway"),
        ("HorizontalPodAutoscaler", "micro-mcp-gateway"),
        ("PodDisruptionBudget", "micro-mcp-gateway"),
        *(
            (kind, f"micro-mcp-{ns}")
            for ns in ("fs", "http", "vector")
            for kind in ("Deployment", "Service", "NetworkPolicy")
        ),
        ("Deployment", "micro-mcp-redis"),
        ("Service", "micro-mcp-redis"),
        ("NetworkPolicy", "micro-mcp-redis"),
    ]
    assert {o["metadata"]["namespace"] for o in rendered()} == {"tools"}


def test_the_configmap_manifest_reaches_each_service_at_its_services_dns_name() -> None:
    objects = rendered()
    data = find(objects, "ConfigMap", "micro-mcp-discovery")["data"]["discovery.json"]
    servers = Manifest.model_validate(json.loads(data)).mcp_servers

    for namespace, spec in servers.items():
        service = find(objects, "Service", f"micro-mcp-{namespace}")
        port = service["spec"]["ports"][0]["port"]
        assert spec.url == f"http://micro-mcp-{namespace}.tools.svc:{port}/mcp"
        assert spec.command is None
        deployment = find(objects, "Deployment", f"micro-mcp-{namespace}")
        assert selects(service["spec"]["selector"], pod_labels(deployment))
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert args[:2] == ["service", namespace]
        assert args[-4:] == ["--host", "0.0.0.0", "--port", str(SERVICE_PORT)]


def test_each_service_selector_picks_exactly_one_deployments_pods() -> None:
    objects = rendered()
    deployments = [o for o in objects if o["kind"] == "Deployment"]

    for service in (o for o in objects if o["kind"] == "Service"):
        chosen = [d for d in deployments if selects(service["spec"]["selector"], pod_labels(d))]
        assert [d["metadata"]["name"] for d in chosen] == [service["metadata"]["name"]]
        ports = chosen[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in ports}


def test_only_the_gateway_may_reach_each_service_and_redis() -> None:
    objects = rendered()
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]

    assert {p["metadata"]["name"] for p in policies} == set(deployments) - {"micro-mcp-gateway"}
    for policy in policies:
        spec = policy["spec"]
        guarded = [
            n
            for n, d in deployments.items()
            if selects(spec["podSelector"]["matchLabels"], pod_labels(d))
        ]
        assert guarded == [policy["metadata"]["name"]]
        assert spec["policyTypes"] == ["Ingress"]
        [rule] = spec["ingress"]
        [peer] = rule["from"]
        admitted = [
            n
            for n, d in deployments.items()
            if selects(peer["podSelector"]["matchLabels"], pod_labels(d))
        ]
        assert admitted == ["micro-mcp-gateway"]
        container_ports = deployments[guarded[0]]["spec"]["template"]["spec"]["containers"][0]
        assert [p["port"] for p in rule["ports"]] == [
            p["containerPort"] for p in container_ports["ports"]
        ]


def test_every_container_runs_unprivileged_on_a_read_only_root() -> None:
    objects = rendered()

    for deployment in (o for o in objects if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }
            # The image writes only under /tmp and /data: each must be a volume.
            volumes = {v["name"] for v in pod["volumes"]}
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "/data" in mounts
            assert set(mounts.values()) <= volumes


def test_the_gateway_is_probed_on_healthz_and_readyz_and_mounts_what_exists() -> None:
    objects = rendered()
    gateway = find(objects, "Deployment", "micro-mcp-gateway")
    pod = gateway["spec"]["template"]["spec"]
    [container] = pod["containers"]

    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["image"] == "registry.example/micro-mcp:1.2.3"
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    args = container["args"]
    discovery = args[args.index("--discovery") + 1]
    config = args[args.index("--config") + 1]
    assert discovery == f"{mounts['discovery']}/discovery.json"
    assert volumes["discovery"]["configMap"]["name"] == "micro-mcp-discovery"
    assert config == f"{mounts['config']}/gateway.json"
    assert volumes["config"]["secret"]["secretName"] == "micro-mcp-config"
    assert volumes["config"]["secret"]["items"] == [{"key": "gateway.json", "path": "gateway.json"}]


def test_no_secret_is_rendered_and_the_named_one_is_only_referenced() -> None:
    options = kubernetes.Options(image="i:1", config_secret="prod-gateway")
    objects = rendered(options)

    assert "Secret" not in {o["kind"] for o in objects}
    gateway = find(objects, "Deployment", "micro-mcp-gateway")
    [config] = [v for v in gateway["spec"]["template"]["spec"]["volumes"] if v["name"] == "config"]
    assert config["secret"]["secretName"] == "prod-gateway"


def test_a_changed_manifest_changes_the_gateways_pod_template() -> None:
    def annotation(objects: list[dict[str, Any]]) -> str:
        gateway = find(objects, "Deployment", "micro-mcp-gateway")
        return gateway["spec"]["template"]["metadata"]["annotations"]["micro-mcp/discovery-sha256"]

    fs = {"command": "python", "args": ["-m", "micro_mcp.services.fs"]}
    assert annotation(rendered(fs=fs)) == annotation(rendered(fs=fs))
    assert annotation(rendered(fs=fs)) != annotation(rendered(fs={**fs, "timeout": 5}))


def test_the_gateway_defaults_to_one_replica_and_the_autoscaler_follows_the_options() -> None:
    one = rendered()
    assert find(one, "Deployment", "micro-mcp-gateway")["spec"]["replicas"] == 1
    hpa = find(one, "HorizontalPodAutoscaler", "micro-mcp-gateway")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (1, 1)
    assert hpa["scaleTargetRef"]["name"] == "micro-mcp-gateway"
    pdb = find(one, "PodDisruptionBudget", "micro-mcp-gateway")["spec"]
    assert pdb == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": kubernetes.selector(OPTIONS, "gateway")},
    }

    many = rendered(kubernetes.Options(image="i:1", replicas=2, max_replicas=6))
    hpa = find(many, "HorizontalPodAutoscaler", "micro-mcp-gateway")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert find(many, "Deployment", "micro-mcp-gateway")["spec"]["replicas"] == 2


def test_a_stdio_service_that_is_not_an_example_stays_in_the_gateways_pod() -> None:
    objects = rendered(time={"command": "uvx", "args": ["mcp-server-time"]})

    assert [o["kind"] for o in objects].count("Deployment") == 2  # the gateway and redis
    data = json.loads(find(objects, "ConfigMap", "micro-mcp-discovery")["data"]["discovery.json"])
    assert data == {"mcpServers": {"time": {"args": ["mcp-server-time"], "command": "uvx"}}}


def test_the_redis_url_names_the_rendered_redis_service() -> None:
    service = find(rendered(), "Service", "micro-mcp-redis")
    port = service["spec"]["ports"][0]["port"]

    assert kubernetes.redis_url(OPTIONS) == f"redis://micro-mcp-redis.tools.svc:{port}/0"


def test_redis_can_be_left_out() -> None:
    objects = rendered(kubernetes.Options(image="i:1", redis=False))

    assert not [o for o in objects if "redis" in o["metadata"]["name"]]


@pytest.mark.parametrize(
    ("changes", "fault"),
    [
        ({"name": "Micro_MCP"}, "--name 'Micro_MCP'"),
        ({"name": "a-very-long-release-name-indeed"}, "--name"),
        ({"namespace": "Tools"}, "--namespace 'Tools'"),
        ({"namespace": "-tools"}, "--namespace"),
        ({"config_secret": "gateway config"}, "--config-secret 'gateway config'"),
        ({"replicas": 0}, "--replicas"),
        ({"replicas": 3, "max_replicas": 2}, "--replicas"),
    ],
)
def test_bad_options_are_refused(changes: dict[str, Any], fault: str) -> None:
    with pytest.raises(ConfigError, match=f"^{fault}"):
        kubernetes.Options(image="i:1", **changes)


CREDENTIALS = {
    "api": {
        "url": "https://api.example/mcp",
        "headers": {
            "Authorization": "Bearer ${file:/run/secrets/api/token}",
            "X-Tenant": "${env:TENANT}",
        },
    },
    "tool": {"command": "tool", "env": {"TOOL_KEY": "${file:/run/secrets/tool-key}"}},
    "sso": {
        "url": "https://sso.example/mcp",
        "auth": {
            "type": "client-credentials",
            "tokenEndpoint": "https://login.example/token",
            "clientId": "gateway",
            "clientSecret": "${env:SSO_SECRET}",
        },
    },
    "fs": {
        "command": "python",
        "args": ["-m", "micro_mcp.services.fs", "--root", "/data"],
        "env": {"FS_TOKEN": "${env:FS_TOKEN}", "MODE": "plain"},
    },
}


def test_references_map_to_the_credentials_secret_and_no_value_is_rendered() -> None:
    objects = rendered(**CREDENTIALS)
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert "Secret" not in {o["kind"] for o in objects}
    discovery = find(objects, "ConfigMap", "micro-mcp-discovery")["data"]["discovery.json"]
    assert "Bearer ${file:/run/secrets/api/token}" in discovery  # the reference, as written

    pod = find(objects, "Deployment", "micro-mcp-gateway")["spec"]["template"]["spec"]
    [gateway] = pod["containers"]
    assert gateway["env"] == [
        {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": "micro-mcp-credentials", "key": name}},
        }
        for name in ("SSO_SECRET", "TENANT")  # a header's, and auth.clientSecret's
    ]
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert volumes[mounts["/run/secrets/api"]]["items"] == [{"key": "token", "path": "token"}]
    assert volumes[mounts["/run/secrets"]]["items"] == [{"key": "tool-key", "path": "tool-key"}]
    assert volumes[mounts["/run/secrets"]]["secretName"] == "micro-mcp-credentials"

    [fs] = find(objects, "Deployment", "micro-mcp-fs")["spec"]["template"]["spec"]["containers"]
    assert fs["env"] == [
        {
            "name": "FS_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "micro-mcp-credentials", "key": "FS_TOKEN"}},
        },
        {"name": "MODE", "value": "plain"},
    ]


@pytest.mark.parametrize(
    ("servers", "fault"),
    [
        ({"t": {"command": "t", "env": {"K": "${file:relative}"}}}, "absolute path"),
        ({"t": {"command": "t", "env": {"K": "${file:/data/key}"}}}, "already mounted"),
        (
            {"t": {"command": "t", "env": {"A": "${file:/a/key}", "B": "${file:/b/key}"}}},
            "same name",
        ),
        (
            {
                "fs": {
                    "command": "python",
                    "args": ["-m", "micro_mcp.services.fs"],
                    "env": {"K": "x ${env:K}"},
                }
            },
            "one whole reference",
        ),
    ],
)
def test_references_kubernetes_cannot_mount_are_refused(
    servers: dict[str, Any], fault: str
) -> None:
    with pytest.raises(ConfigError, match=fault):
        rendered(**servers)
