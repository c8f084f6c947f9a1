"""Credentials from the config: static-token principals, OAuth claim mapping, and the
`Authority` that checks bearer tokens with both. Built at start and again on a config reload."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from micro_mcp.config.model import GatewayConfig, PolicySpec, StaticToken
from micro_mcp.errors import ConfigError
from micro_mcp.identity.authority import Authority
from micro_mcp.identity.claims import ClaimMap, Grant
from micro_mcp.policy.engine import ANONYMOUS, Authenticator, token_digest
from micro_mcp.policy.model import Policy, Principal

MIN_TOKEN_LENGTH: Final = 16
"""Static tokens shorter than this are refused at start, as in the config itself."""


def build_authenticator(
    config: GatewayConfig, environ: Mapping[str, str] = os.environ
) -> Authenticator:
    """The static-token principals of a config, with their compiled policies; anonymous when
    neither a token nor OAuth is configured.

    Raises:
        ConfigError: a token's file or environment variable is missing or empty, or two
            principals share a token.
    """
    principals: dict[str, tuple[bytes, Principal]] = {}
    owners: dict[bytes, str] = {}
    for name, spec, policy, groups, profiles in [
        ("default", config, config.policy, frozenset[str](), _default_profiles(config)),
        *(
            (n, p, p.policy, frozenset(p.groups), p.assigned())
            for n, p in config.principals.items()
        ),
    ]:
        digest = _token_digest(name, spec, environ)
        if digest is None:
            continue
        if digest in owners:
            raise ConfigError(f"principals {owners[digest]!r} and {name!r} share a token")
        owners[digest] = name
        principals[name] = (digest, Principal(name, _policy(policy, profiles), groups=groups))
    configured = principals or config.oauth is not None
    open_policy = _policy(config.policy, _default_profiles(config))
    open_principal = None if configured else Principal(ANONYMOUS, open_policy)
    return Authenticator(principals, open_principal)


def build_authority(config: GatewayConfig, environ: Mapping[str, str] = os.environ) -> Authority:
    """Everything that authenticates callers: static tokens and, when configured, OAuth.

    Raises:
        ConfigError: as `build_authenticator`, or the introspection secret is missing.
    """
    static = build_authenticator(config, environ)
    oauth = config.oauth
    claim_map = build_claim_map(config)
    if oauth is None or claim_map is None:
        return Authority(static)
    secret = None
    if oauth.introspection is not None:
        spec = oauth.introspection
        secret = _secret(
            "oauth.introspection client secret",
            file=spec.client_secret_file,
            env=spec.client_secret_env,
            environ=environ,
        )
    return Authority(static, oauth, claim_map, secret)


def build_claim_map(config: GatewayConfig) -> ClaimMap | None:
    """How an OAuth token's claims become a principal, with the policies the config grants by
    subject, group or scope; None without `oauth`."""
    oauth = config.oauth
    if oauth is None:
        return None
    policies = {
        name: _policy(spec.policy, spec.assigned()) for name, spec in config.principals.items()
    }
    policies["default"] = _policy(config.policy, _default_profiles(config))
    grants: list[Grant] = []
    for grant in oauth.principals:
        policy = policies[grant.principal]
        if grant.subject is not None:
            grants.append(Grant("subject", grant.subject, policy))
        elif grant.group is not None:
            grants.append(Grant("group", grant.group, policy))
        elif grant.scope is not None:
            grants.append(Grant("scope", grant.scope, policy))
    return ClaimMap(
        oauth.claims.principal,
        oauth.claims.groups,
        oauth.claims.scopes,
        tuple(grants),
        policies[oauth.default_principal],
    )


def _policy(spec: PolicySpec, profiles: tuple[str, ...] = ()) -> Policy:
    return Policy(allow=spec.allow, deny=spec.deny, profiles=profiles)


def _default_profiles(config: GatewayConfig) -> tuple[str, ...]:
    return (config.profile,) if config.profile is not None else ()


def _token_digest(name: str, spec: StaticToken, environ: Mapping[str, str]) -> bytes | None:
    if spec.token is not None:
        return token_digest(spec.token)
    if spec.token_sha256 is not None:
        return bytes.fromhex(spec.token_sha256)
    if spec.token_file is None and spec.token_env is None:
        return None
    token = _secret(
        f"principal {name!r} token", file=spec.token_file, env=spec.token_env, environ=environ
    )
    if len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(f"principal {name!r}: the token is under {MIN_TOKEN_LENGTH} characters")
    return token_digest(token)


def _secret(what: str, *, file: str | None, env: str | None, environ: Mapping[str, str]) -> str:
    """A secret from a file or an environment variable, stripped of surrounding whitespace.

    Raises:
        ConfigError: the file cannot be read, the variable is unset, or the secret is empty.
    """
    if file is not None:
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{what}: cannot read {file}: {exc.strerror or exc}") from exc
        where = file
    else:
        assert env is not None
        value = environ.get(env, "").strip()
        where = f"${env}"
    if not value:
        raise ConfigError(f"{what}: {where} is unset or empty")
    return value
