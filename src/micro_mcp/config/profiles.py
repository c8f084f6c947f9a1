"""The `profiles` and `cache` sections of the gateway config, and a service's `tools` overrides.

A profile is a named subset of the catalog, served at `/mcp/p/NAME` over HTTP and with
`--profile NAME` on stdio. An override changes how one of a service's tools is shown: its
name, title, description or annotations, arguments the gateway fills in itself, or the tool
hidden altogether.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROFILE_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""What a profile name may look like: it is a path segment (`/mcp/p/NAME`)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class ProfileSpec(_Frozen):
    """A named subset of the catalog: the items of the listed services, of the services that
    carry one of the tags, and those whose canonical `namespace.name` matches one of the
    `include` globs; minus those matching an `exclude` glob. With none of `services`, `tags`
    and `include`, everything (minus `exclude`)."""

    description: str = ""
    """Shown in `/admin` and `micro-mcp status`."""
    services: tuple[str, ...] = ()
    """Namespaces whose every tool, prompt and resource the profile holds."""
    tags: tuple[str, ...] = ()
    """Tags of services (the manifest entry's `tags`) whose items the profile holds."""
    include: tuple[str, ...] = ()
    """Glob patterns over canonical subjects (`fs.read*`, `*.search*`), as in `policy`."""
    exclude: tuple[str, ...] = ()
    """Glob patterns over canonical subjects taken out again."""


class ToolOverride(_Frozen):
    """How one of a service's tools is shown; its manifest key is the service's own name."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    """The name clients see (behind the namespace, fitted to `names` like any other)."""
    title: str | None = None
    """The title clients see."""
    description: str | None = None
    """The description clients see (and models read): say what the tool does here."""
    annotations: dict[str, Any] = Field(default_factory=dict)
    """Merged over the tool's own annotations (`readOnlyHint`, `destructiveHint`, ...)."""
    hide: bool = False
    """Leave the tool out of the catalog: listed nowhere, and a call is an unknown tool."""
    fixed: dict[str, Any] = Field(default_factory=dict)
    """Arguments the gateway fills in: removed from the `inputSchema` clients see and added to
    every call; a call that passes one itself is refused (`-32602`)."""

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str | None) -> str | None:
        if value is not None and (value != value.strip() or any(c.isspace() for c in value)):
            raise ValueError("a tool name holds no whitespace")
        return value


class CacheSpec(_Frozen):
    """The gateway's cache of `resources/read` results that services mark cacheable
    (2026-07-28 `ttlMs` above 0); `private` results are kept per principal."""

    max_entries: int = Field(default=1024, ge=1, alias="maxEntries")
    """Results kept at most; the least recently used goes first."""
    max_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, alias="maxBytes")
    """Bytes of results (as encoded) kept at most."""
    max_entry_bytes: int = Field(default=1024 * 1024, ge=1, alias="maxEntryBytes")
    """A larger result is passed on and not kept."""
    max_ttl_ms: int = Field(default=24 * 3600 * 1000, ge=1, alias="maxTtlMs")
    """A longer `ttlMs` is cut to this."""

    @model_validator(mode="after")
    def _entry_fits(self) -> CacheSpec:
        if self.max_entry_bytes > self.max_bytes:
            raise ValueError("maxEntryBytes is larger than maxBytes")
        return self


def check_profile_names(profiles: dict[str, ProfileSpec]) -> None:
    """Raises ValueError naming a profile whose name cannot be a path segment."""
    for name in profiles:
        if PROFILE_NAME.fullmatch(name) is None:
            raise ValueError(
                f"profiles: {name!r} is not a valid profile name: use 1-32 characters of a-z, "
                "0-9 and '-', starting with a letter"
            )
