"""The `state` section of the gateway config: where replicas keep what they share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from micro_mcp.errors import ConfigError

SCHEMES: Final = ("redis://", "rediss://", "unix://")
"""URL schemes redis-py connects by."""
MIN_KEY_CHARS: Final = 32
"""Shortest sealing key taken from the environment."""


class StateSpec(BaseModel):
    """The store that gateway replicas share state through (consent approvals and the key
    that seals consent states, task owners, tool pins). None: each process keeps its own, in
    memory (pins in `pinning.store`)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    redis: str | None = None
    """`redis://[:password@]host:port/db`, `rediss://...` (TLS) or `unix:///path.sock`: every
    replica of a deployment names the same. Unreachable at start: the gateway does not start."""
    key_prefix: str = Field(default="micro-mcp:", alias="keyPrefix")
    """Starts every key the gateway writes; deployments sharing one Redis need their own."""
    timeout: float = Field(default=2.0, gt=0)
    """Seconds to connect to the store and for each of its answers."""
    sealing_key_env: str | None = Field(default=None, alias="sealingKeyEnv")
    """The environment variable holding the key that seals consent states (at least 32
    characters), the same for every replica. Unset: with `redis`, the first replica generates
    one and keeps it there (lost if Redis restarts without persistence while a replica starts:
    then give it here); without, each process generates its own at start."""

    def sealing_key(self, environ: Mapping[str, str]) -> bytes | None:
        """The key `sealingKeyEnv` names, or None when it names none.

        Raises:
            ConfigError: the variable is unset or too short.
        """
        if self.sealing_key_env is None:
            return None
        value = environ.get(self.sealing_key_env, "")
        if len(value) < MIN_KEY_CHARS:
            raise ConfigError(
                f"state.sealingKeyEnv: ${self.sealing_key_env} must hold at least "
                f"{MIN_KEY_CHARS} characters (e.g. from `openssl rand -hex 32`)"
            )
        return value.encode()

    @field_validator("redis")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(SCHEMES):
            raise ValueError(f"must start with one of {', '.join(SCHEMES)}")
        return value

    def shown(self) -> str:
        """The store's URL for the log, without its password."""
        url = self.redis or ""
        scheme, sep, rest = url.partition("://")
        return f"{scheme}{sep}{rest.rpartition('@')[2]}"
