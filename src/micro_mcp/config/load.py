"""Read the manifest and the config from JSON, YAML or TOML files into validated models.

A bad file stops start-up with one message per fault, each naming the file, the path inside it
and what is wrong: `discovery.json: mcpServers.fs.command: Input should be a valid string`.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.errors import ConfigError

_Model = TypeVar("_Model", bound=BaseModel)

DEFAULT_MANIFEST = "discovery.default.json"
"""The manifest packaged with micro-mcp: the three example services on embedded defaults."""


def load_manifest(path: str | Path | None) -> tuple[Manifest, Path]:
    """Load the discovery manifest at `path`, or the packaged default when `path` is None.

    Returns the manifest and the directory that relative `cwd` entries are resolved against.

    Raises:
        ConfigError: the file is missing, unparsable or invalid.
    """
    if path is None:
        packaged = resources.files("micro_mcp.defaults").joinpath(DEFAULT_MANIFEST)
        text = packaged.read_text(encoding="utf-8")
        return _validate(
            Manifest, _parse(text, DEFAULT_MANIFEST, ".json"), DEFAULT_MANIFEST
        ), Path.cwd()
    file = Path(path)
    return _validate(Manifest, _read(file), str(file)), file.resolve().parent


def load_config(path: str | Path | None) -> GatewayConfig:
    """Load the gateway config at `path`; no file means the defaults.

    Raises:
        ConfigError: the file is missing, unparsable or invalid.
    """
    if path is None:
        return GatewayConfig()
    file = Path(path)
    return _validate(GatewayConfig, _read(file), str(file))


def read_document(path: str | Path) -> Any:
    """The parsed content of a JSON, YAML or TOML file, not yet validated.

    Raises:
        ConfigError: the file is missing or unparsable.
    """
    return _read(Path(path))


def _read(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    return _parse(text, str(file), file.suffix.lower())


def _parse(text: str, name: str, suffix: str) -> Any:
    try:
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name}: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: not valid YAML: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from exc


def _validate(model: type[_Model], data: Any, name: str) -> _Model:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{name}: the top level must be an object (a mapping)")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        faults = [f"{name}: {_location(err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError("\n".join(faults)) from exc


def _location(loc: tuple[int | str, ...]) -> str:
    parts = [f"[{part}]" if isinstance(part, int) else str(part) for part in loc]
    return ".".join(parts).replace(".[", "[") or "(top level)"
