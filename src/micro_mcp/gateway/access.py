"""Who callers are and what they may do, changed without a restart.

The config's tokens, principals, OAuth grants, rules, rate-limit rules, consent settings and
guardrails are read again when its file changes or on SIGHUP (with the manifest). A config
that fails to load or to compile, or that would leave an HTTP gateway on a non-loopback address
open to anyone, is logged and ignored: the running settings stay. Settings that shape the
running server (`http`, `audit`, `telemetry`, `names`, `separator`, the OAuth issuer and its
keys, the rate-limit store) take a restart; a changed one is named in the log and kept as it
runs.

A static principal whose token is gone or changed is revoked at once: its clients lose their
principal (their next request is refused with -32011), their calls in flight are cancelled, and
their HTTP sessions end. The clients of a principal that stays take its new policy and groups
with their next request. An OAuth principal is checked again with every HTTP request; over
stdio, its token is checked once, at start.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

import orjson

from micro_mcp.config.load import load_config
from micro_mcp.config.model import GatewayConfig, ServiceSpec
from micro_mcp.errors import ConfigError
from micro_mcp.gateway.clients.registry import Clients
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.core.guard import Guard
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.credentials import build_authenticator, build_claim_map
from micro_mcp.identity.authority import Authority
from micro_mcp.policy.engine import Authenticator
from micro_mcp.policy.model import Principal
from micro_mcp.policy.rules import compile_rules

logger = logging.getLogger(__name__)

RELOADED = (
    "token",
    "token_sha256",
    "token_file",
    "token_env",
    "policy",
    "profile",
    "principals",
    "rules",
    "oauth",
    "rate_limits",
    "consent",
    "guardrails",
)
"""Config sections a reload applies (for `oauth`, its claim mapping; the rest of it, and the
rate-limit store, are checked against what runs)."""
RESTART_ONLY = (
    "http",
    "audit",
    "telemetry",
    "names",
    "separator",
    "page_size",
    "max_message_bytes",
    "reload_interval",
    "pinning",
    "state",
    "discovery",
    "profiles",
    "cache",
)
"""Config sections the running server is built from: a change waits for a restart."""

Revoke = Callable[[frozenset[str]], None]
"""Ends what a front keeps for the named principals (their HTTP sessions)."""


class Access:
    """The config's access settings as they run, and their replacement from a new config."""

    def __init__(
        self,
        config: GatewayConfig,
        authority: Authority,
        dispatcher: Dispatcher,
        clients: Clients,
        *,
        environ: Mapping[str, str],
        open_allowed: bool,
    ) -> None:
        """`open_allowed` says whether a config without any credential may be taken (false for
        HTTP on a non-loopback address, where start-up refuses it too)."""
        self.config = config
        self.authority = authority
        self.dispatcher = dispatcher
        self.clients = clients
        self.environ = environ
        self.open_allowed = open_allowed
        self._opened = dispatcher.rate_limits
        """The rate limits over the store every reload keeps: opened at start, or made in
        memory by the first reload with rate-limit rules."""
        self._store = _store(config)
        self.revoke_hooks: list[Revoke] = []
        """Called with the revoked principals' names (a front ends their sessions)."""

    def reload(self, path: Path) -> bool:
        """Read the config at `path` and apply it; on a bad file, log why and keep what runs.

        Returns whether the new config was applied.
        """
        try:
            config = load_config(path)
        except ConfigError as exc:
            logger.error("config not reloaded, the running one is kept: %s", exc)
            return False
        return self.apply(config)

    def apply(self, config: GatewayConfig) -> bool:
        """Take `config`'s access settings, if they compile; returns whether they were taken."""
        try:
            static = build_authenticator(config, self.environ)
            rules = compile_rules(config.rules)
            guard = (
                self.dispatcher.guard
                if config.guardrails == self.config.guardrails
                else Guard.of(config.guardrails, self.dispatcher.trail)
            )
        except ConfigError as exc:
            logger.error("config not reloaded, the running one is kept: %s", exc)
            return False
        oauth_kept = config.oauth == self.config.oauth or _same_issuer(config, self.config)
        if static.open_principal is not None and not self.open_allowed:
            logger.error(
                "config not reloaded, the running one is kept: it has no token, and this "
                "gateway serves a non-loopback address"
            )
            return False
        if (config.oauth is None) != (self.config.oauth is None):
            logger.error(
                "config not reloaded, the running one is kept: turning OAuth %s takes a restart",
                "on" if config.oauth is not None else "off",
            )
            return False
        store_kept, limits = self._rate_limits(config)
        restart = [
            name for name in RESTART_ONLY if getattr(config, name) != getattr(self.config, name)
        ]
        if not oauth_kept:
            restart.append("oauth (issuer, keys or introspection)")
        if not store_kept:
            restart.append("rateLimits (its store)")
        old = self.authority.static
        self.authority.static = static
        if oauth_kept:
            self.authority.oauth = config.oauth
            self.authority.claim_map = build_claim_map(config)
        self.dispatcher.rules = rules
        self.dispatcher.guard = guard
        if store_kept:
            self.dispatcher.rate_limits = limits
        self.dispatcher.consent = self.dispatcher.consent.reconfigured(config.consent)
        revoked = self._revoke(old, static)
        self.config = config
        logger.info(
            "config reloaded: %d static principals, %d rules, %d rate-limit rules%s%s",
            len(static.principals) + (static.open_principal is not None),
            len(config.rules),
            len(config.rate_limits.rules),
            f"; revoked: {', '.join(sorted(revoked))}" if revoked else "",
            f"; a restart is needed to apply: {', '.join(restart)}" if restart else "",
        )
        return True

    def _rate_limits(self, config: GatewayConfig) -> tuple[bool, RateLimits | None]:
        """Whether `config`'s rate limits can run on the store opened at start, and those
        limits (None: no rules). Another store is opened only by a restart, but one in memory,
        which needs no opening."""
        spec = config.rate_limits
        if not spec.rules:
            return True, None
        base = self._opened
        if base is None:
            # No store was opened at start: one in memory, made on the first reload that
            # needs it and kept by the later ones (so their counts carry on).
            base = self._opened = RateLimits.in_memory(spec, self.dispatcher.telemetry)
            if base is None:
                return False, None
        if _store(config) != self._store:
            return False, self.dispatcher.rate_limits
        return True, base.reconfigured(spec)

    def _revoke(self, old: Authenticator, new: Authenticator) -> frozenset[str]:
        """Give every client of a static principal the principal's new record, or none when
        its token is gone or changed; returns the names revoked."""
        kept: dict[str, Principal] = {}
        revoked: set[str] = set()
        for name, (digest, _) in old.principals.items():
            now = new.principals.get(name)
            if now is not None and now[0] == digest:
                kept[name] = now[1]
            else:
                revoked.add(name)
        if old.open_principal is not None:
            if new.open_principal is not None:
                kept[old.open_principal.name] = new.open_principal
            else:
                revoked.add(old.open_principal.name)
        for client in self.clients:
            principal = client.principal
            if principal is None:
                continue
            if principal.name in revoked:
                client.principal = None
                for scope in list(client.in_flight.values()):
                    scope.cancel()
            elif principal.name in kept:
                client.principal = kept[principal.name]
        names = frozenset(revoked)
        if names:
            for hook in self.revoke_hooks:
                hook(names)
        return names


def _same_issuer(new: GatewayConfig, old: GatewayConfig) -> bool:
    """Whether two OAuth sections differ only in what maps claims to principals (which a
    reload takes), not in how tokens are checked (which takes a restart)."""
    if new.oauth is None or old.oauth is None:
        return new.oauth is None and old.oauth is None
    mapping: Collection[str] = ("principals", "default_principal", "claims", "required_scopes")
    return new.oauth.model_copy(update={k: getattr(old.oauth, k) for k in mapping}) == old.oauth


def _store(config: GatewayConfig) -> tuple[str, str, float]:
    """What names a rate-limit store: its URL, key prefix and timeout."""
    spec = config.rate_limits
    return spec.storage, spec.key_prefix, spec.timeout


def fingerprint(config: GatewayConfig, services: Mapping[str, ServiceSpec]) -> str:
    """A short digest of the config as it runs (the gateway config and each service's spec),
    the same on every replica that loaded the same files, for replicas to compare."""
    document = {
        "config": config.model_dump(mode="json"),
        "services": {ns: spec.model_dump(mode="json") for ns, spec in services.items()},
    }
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
