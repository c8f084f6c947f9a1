"""The `pinning` section of the gateway config: where approvals are kept, and how large a
definition may be.

```json
"pinning": {"store": "state/pins.sqlite", "maxDefinitionBytes": 65536}
```

Each service picks its mode in the manifest (`"pinning": "pin" | "review" | "warn" | "off"`,
default `pin`). The store is a SQLite file: `store` is resolved against the config file's folder;
without it, the file is `<manifest stem>.pins.sqlite` next to the manifest (`mcp.json` ->
`mcp.pins.sqlite`), or, for the built-in example services, `pins.sqlite` in
`$XDG_STATE_HOME/micro-mcp` (`~/.local/state/micro-mcp`). The gateway and `micro-mcp approve`
find the same file from the same arguments.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

Mode = Literal["pin", "review", "warn", "off"]
"""How a service's definitions are pinned (the manifest entry's `pinning`)."""
DEFAULT_MAX_BYTES: Final = 64 * 1024
"""The largest canonical definition pinned by default; a larger one is held as too large."""


class PinningSpec(BaseModel):
    """Where pins are kept and the largest definition pinned."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    store: str | None = None
    """The SQLite file, relative to the config file's folder; default in the module docstring.
    Not used with `state.redis`: replicas then keep their pins in Redis, shared."""
    max_definition_bytes: int = Field(
        default=DEFAULT_MAX_BYTES, ge=1024, alias="maxDefinitionBytes"
    )
    """A tool, prompt or template whose canonical definition is larger is held as too large."""


def store_path(
    spec: PinningSpec,
    config_path: Path | None,
    manifest_path: Path | None,
    environ: Mapping[str, str] = os.environ,
) -> Path:
    """The pin store's file for a gateway run with these files (see the module docstring)."""
    if spec.store is not None:
        base = config_path.resolve().parent if config_path is not None else Path.cwd()
        return base / Path(spec.store).expanduser()
    if manifest_path is not None:
        manifest = manifest_path.resolve()
        return manifest.with_name(f"{manifest.stem}.pins.sqlite")
    state = environ.get("XDG_STATE_HOME") or str(Path(environ.get("HOME", "~")) / ".local/state")
    return Path(state).expanduser() / "micro-mcp" / "pins.sqlite"
