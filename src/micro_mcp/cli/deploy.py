"""`micro-mcp deploy`: Kubernetes manifests from a discovery manifest, and the config secret."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata
from pathlib import Path

from micro_mcp.config.load import load_manifest
from micro_mcp.deploy import kubernetes, references
from micro_mcp.deploy.documents import yaml_stream
from micro_mcp.deploy.layout import plan
from micro_mcp.deploy.secrets import write_secrets
from micro_mcp.errors import ConfigError


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `deploy` subcommands to their parser."""
    targets = parser.add_subparsers(dest="target", required=True)
    k8s = targets.add_parser(
        "kubernetes", help="print the Kubernetes objects for a manifest's gateway and services"
    )
    k8s.add_argument(
        "--discovery", metavar="FILE", help="the manifest; default: the example services"
    )
    k8s.add_argument("--namespace", default="micro-mcp", help="the Kubernetes namespace")
    k8s.add_argument(
        "--image",
        default=f"micro-mcp:{metadata.version('micro-mcp')}",
        help="the image built from this repository's Dockerfile (default: %(default)s)",
    )
    k8s.add_argument("--name", default="micro-mcp", help="prefix of every object's name")
    k8s.add_argument(
        "--config-secret",
        metavar="NAME",
        help="the Secret holding the gateway config as gateway.json; default: NAME-config",
    )
    k8s.add_argument(
        "--credentials-secret",
        metavar="NAME",
        help="the Secret holding what the manifest's ${env:...} and ${file:...} references "
        "name; default: NAME-credentials",
    )
    k8s.add_argument(
        "--replicas", type=int, default=1, help="gateway replicas (see docs/DEPLOY.md first)"
    )
    k8s.add_argument(
        "--max-replicas", type=int, help="the gateway autoscaler's ceiling; default: --replicas"
    )
    k8s.add_argument("--redis-image", default=kubernetes.REDIS_IMAGE)
    k8s.add_argument("--no-redis", action="store_true", help="leave Redis out")
    k8s.add_argument("--out", metavar="FILE", help="write the YAML here instead of stdout")
    secrets = targets.add_parser(
        "secrets", help="write a gateway config with fresh tokens, and the operator token"
    )
    secrets.add_argument("directory", help="where to write gateway.json and operator-token")
    secrets.add_argument(
        "--config", metavar="FILE", help="a config to start from (policy, principals, ...)"
    )
    secrets.add_argument(
        "--redis",
        metavar="URL",
        help="the deployment's Redis, as the rate limits' store and state.redis (each unless "
        "the config names one)",
    )


def run(args: argparse.Namespace) -> int:
    """Run a deploy subcommand; returns the exit code (2: a bad file or option)."""
    try:
        if args.target == "secrets":
            return _secrets(args)
        return _kubernetes(args)
    except ConfigError as exc:
        print(f"micro-mcp: {exc}", file=sys.stderr)
        return 2


def _kubernetes(args: argparse.Namespace) -> int:
    manifest, _ = load_manifest(args.discovery)
    layout = plan(manifest)
    options = kubernetes.Options(
        image=args.image,
        name=args.name,
        namespace=args.namespace,
        config_secret=args.config_secret,
        credentials_secret=args.credentials_secret,
        replicas=args.replicas,
        max_replicas=args.replicas if args.max_replicas is None else args.max_replicas,
        redis_image=args.redis_image,
        redis=not args.no_redis,
    )
    text = yaml_stream(kubernetes.render(layout, options))
    for note in layout.notes:
        print(f"micro-mcp: note: {note}", file=sys.stderr)
    keys = references.secret_keys(layout, kubernetes.RESERVED_FOLDERS)
    if keys:
        print(
            f"micro-mcp: note: the manifest's references need Secret {options.credentials} "
            f"with the keys {', '.join(keys)} (kubectl -n {options.namespace} create secret "
            f"generic {options.credentials} --from-file=KEY=FILE ...)",
            file=sys.stderr,
        )
    if options.redis:
        print(
            f"micro-mcp: note: Redis at {kubernetes.redis_url(options)}; name it in the config "
            "(micro-mcp deploy secrets --redis URL sets rateLimits.storage and state.redis) to "
            "share rate limits and state between replicas",
            file=sys.stderr,
        )
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def _secrets(args: argparse.Namespace) -> int:
    base = Path(args.config) if args.config else None
    written = write_secrets(Path(args.directory), base, args.redis)
    generated = ", ".join(written.generated) or "none (the base config had both)"
    print(f"wrote {written.config} and {written.operator_token}; new tokens: {generated}")
    print(f"rate-limit counters: {written.storage}")
    print(
        f"state replicas share (consent, tasks, tool pins): {written.state or 'none, per process'}"
    )
    return 0
