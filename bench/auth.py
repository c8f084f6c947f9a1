"""What authenticating a call costs: static token, JWT with a warm key cache, cached introspection.

    .venv/bin/python bench/auth.py [--quick]

Each call runs `Authority.authenticate(token)`, the whole of what the HTTP front's token guard
does per request (the claims mapped to a principal and the scope check included), in process:
no sockets, so the figures are the verification alone. The JWT is an access token as an issuer
mints it (RS256 with a 2048-bit key, or ES256 on P-256; iss, aud, sub, exp, iat, scope, a few
groups); its key is fetched once before timing. "First sight" is a token the gateway has not
verified before (the verified-token cache off: signature and every check each call); "seen
before" is the usual case of a client sending the same token with every call. Paths alternate
in batches, so all see the same
machine state; a figure is the median over batches of each batch's p50 (or p99). The added
cost of OAuth is a JWT path minus the static path, which is what every call paid before.

Prints a table and writes `bench/results/auth-latest.json`. Run by hand on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from micro_mcp.config.model import GatewayConfig
from micro_mcp.gateway.serve import build_authority
from micro_mcp.identity.authority import Authority

HERE = Path(__file__).resolve().parent
ISSUER = "https://issuer.example"
RESOURCE = "https://gateway.example/mcp"
STATIC = "bench-static-token-0123456789"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "aud": RESOURCE,
        "sub": "user-1234",
        "client_id": "bench-client",
        "iat": now,
        "exp": now + 3600,
        "scope": "mcp:tools mcp:resources",
        "groups": ["engineering", "oncall", "staff"],
    }


def _paths() -> dict[str, tuple[Authority, str]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "r"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key(), as_dict=True), "kid": "e"},
        ]
    }

    async def fetch() -> Mapping[str, Any]:
        return jwks

    opaque_answer = {"active": True, **_claims()}

    async def introspect(token: str) -> Mapping[str, Any]:
        return opaque_answer

    config = GatewayConfig.model_validate(
        {
            "principals": {"bench": {"tokenEnv": "BENCH_TOKEN"}},
            "oauth": {
                "issuer": ISSUER,
                "resource": RESOURCE,
                "jwksUri": f"{ISSUER}/jwks",
                "requiredScopes": ["mcp:tools"],
                "principals": [{"group": "oncall", "principal": "bench"}],
                "introspection": {
                    "endpoint": f"{ISSUER}/introspect",
                    "clientId": "gw",
                    "clientSecretEnv": "BENCH_SECRET",
                },
            },
        }
    )
    built = build_authority(config, {"BENCH_TOKEN": STATIC, "BENCH_SECRET": "x"})
    authority = Authority(
        built.static,
        config.oauth,
        built.claim_map,
        fetch_keys=fetch,
        introspect=introspect,
    )
    assert config.oauth is not None
    uncached_spec = config.oauth.model_copy(update={"token_cache_size": 0})
    uncached = Authority(built.static, uncached_spec, built.claim_map, fetch_keys=fetch)
    rs256 = jwt.encode(_claims(), rsa_key, algorithm="RS256", headers={"kid": "r"})
    es256 = jwt.encode(_claims(), ec_key, algorithm="ES256", headers={"kid": "e"})
    paths = {
        "static token": (authority, STATIC),
        "JWT RS256, first sight": (uncached, rs256),
        "JWT ES256, first sight": (uncached, es256),
        "JWT RS256, seen before": (authority, rs256),
        "opaque, introspection cached": (authority, "an-opaque-access-token-0123456789"),
    }
    return paths


async def _batch(authority: Authority, token: str, count: int) -> list[float]:
    times: list[float] = []
    clock = time.perf_counter
    for _ in range(count):
        began = clock()
        await authority.authenticate(token)
        times.append((clock() - began) * 1e6)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls: a smoke run")
    args = parser.parse_args()
    batches, per_batch = (5, 200) if args.quick else (25, 2000)
    paths = _paths()
    for authority, token in paths.values():  # warm: keys fetched, introspection answer cached
        await authority.authenticate(token)
    p50s: dict[str, list[float]] = {name: [] for name in paths}
    p99s: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(batches):
        for name, (authority, token) in paths.items():
            times = await _batch(authority, token, per_batch)
            p50s[name].append(_percentile(times, 0.5))
            p99s[name].append(_percentile(times, 0.99))
    results = {
        name: {"p50_us": statistics.median(p50s[name]), "p99_us": statistics.median(p99s[name])}
        for name in paths
    }
    base = results["static token"]["p50_us"]
    for figures in results.values():
        figures["added_p50_us"] = figures["p50_us"] - base
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "pyjwt": jwt.__version__,
    }
    print(f"{'path':32} {'p50 us':>8} {'p99 us':>8} {'added p50 us':>13}")
    for name, figures in results.items():
        print(
            f"{name:32} {figures['p50_us']:8.1f} {figures['p99_us']:8.1f} "
            f"{figures['added_p50_us']:13.1f}"
        )
    print(f"\n{batches} batches x {per_batch} calls; machine: {machine}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    document = {"machine": machine, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "results": results}
    (out / "auth-latest.json").write_text(json.dumps(document, indent=2))


if __name__ == "__main__":
    sys.exit(anyio.run(main))
