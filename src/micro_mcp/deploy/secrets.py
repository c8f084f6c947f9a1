"""A gateway config with fresh tokens, for a deployment whose gateway listens beyond loopback.

A gateway on a public address refuses to start without a token, and its `/metrics` answers
off loopback only with the operator token; both go in the config, which is why it is a secret.
The deployment's Redis can be named as the rate limits' store and as the state store
(`state.redis`), so that replicas share counters, consent, tasks and tool pins.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from micro_mcp.config.load import load_config
from micro_mcp.errors import ConfigError

CONFIG_FILE: Final = "gateway.json"
OPERATOR_TOKEN_FILE: Final = "operator-token"
"""The operator token alone, for a scraper's `credentials_file` (Prometheus)."""
TOKEN_BYTES: Final = 32
"""Random bytes in a generated token (43 characters of URL-safe base64)."""


@dataclass(frozen=True, slots=True)
class Written:
    """The files written and which tokens were generated (rather than kept from the base)."""

    config: Path
    operator_token: Path
    generated: tuple[str, ...]
    storage: str
    """Where rate-limit counters live (`rateLimits.storage`)."""
    state: str | None = None
    """Where replicas share their state (`state.redis`); None: each keeps its own."""


def write_secrets(
    directory: Path, base: Path | None = None, redis_url: str | None = None
) -> Written:
    """Write `gateway.json` and `operator-token` into `directory`: the base config (or the
    defaults) with a client token and an operator token added where it has none, and
    `rateLimits.storage` and `state.redis` set to `redis_url` where the base sets no store.

    The directory is made private (0700); the files in it are 0644, since a container reads them
    through a bind mount as another user (compose's file secrets keep the host's owner and mode).

    Raises:
        ConfigError: the base config is invalid, or a file would be overwritten.
    """
    config = load_config(base)
    data: dict[str, Any] = config.model_dump(mode="json", by_alias=True, exclude_unset=True)
    generated: list[str] = []
    if config.token is None:
        data["token"] = secrets.token_urlsafe(TOKEN_BYTES)
        generated.append("token")
    operator = config.telemetry.operator_token
    if operator is None:
        operator = secrets.token_urlsafe(TOKEN_BYTES)
        data.setdefault("telemetry", {})["operatorToken"] = operator
        generated.append("telemetry.operatorToken")
    storage = config.rate_limits.storage
    if redis_url is not None and "storage" not in config.rate_limits.model_fields_set:
        data.setdefault("rateLimits", {})["storage"] = storage = redis_url
    state = config.state.redis
    if redis_url is not None and state is None:
        data.setdefault("state", {})["redis"] = state = redis_url
    paths = directory / CONFIG_FILE, directory / OPERATOR_TOKEN_FILE
    for path in paths:
        if path.exists():
            raise ConfigError(f"{path}: exists; remove it first to generate new tokens")
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    _write(paths[0], json.dumps(data, indent=2) + "\n")
    _write(paths[1], operator + "\n")
    load_config(paths[0])  # what was written loads, tokens and all
    return Written(paths[0], paths[1], tuple(generated), storage, state)


def _write(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.fchmod(descriptor, 0o644)  # whatever the umask
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
