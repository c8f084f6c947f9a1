"""The configuration reference, `docs/CONFIG.md`, written from the pydantic models themselves:
every key with its type, default and the docstring of its field, so the reference cannot drift
from what the loader accepts (a test compares the file with `render()`).
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, Union, cast, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from micro_mcp.config.model import GatewayConfig, Manifest

COMMAND: Final = "micro-mcp config docs --output docs/CONFIG.md"
"""How the reference is regenerated; the file says so at its top."""
HEADER: Final = f"""\
# Configuration reference

<!-- Generated from the pydantic models in src/micro_mcp/config/ by `{COMMAND}`
     (or `bash scripts/config-docs`, which writes the JSON Schemas too).
     Do not edit by hand: tests/unit/test_config_reference.py fails when this file is stale. -->

Two files configure micro-mcp: the **manifest** (`--discovery FILE`), which names the services,
and the **gateway config** (`--config FILE`), which holds tokens, policy, audit, HTTP and
telemetry settings. Both load from JSON, YAML or TOML; unknown keys are refused. Keys are
camelCase as shown; the snake_case spelling of a key is accepted too. Check a file with
`micro-mcp config check FILE`; the JSON Schemas are `micro-mcp config schema manifest|gateway`.
"""


@dataclass(frozen=True, slots=True)
class Section:
    """One table of the reference: the keys of one object, at `path` in its file."""

    path: str
    model: type[BaseModel]


def render() -> str:
    """The whole reference, as Markdown."""
    parts = [HEADER]
    for title, root in (
        ("The manifest (`--discovery`)", Manifest),
        ("The gateway config (`--config`)", GatewayConfig),
    ):
        parts.append(f"\n## {title}\n")
        parts.extend(_table(section) for section in sections(root, ""))
    return "".join(parts)


SCHEMAS: Final[dict[str, type[BaseModel]]] = {"manifest": Manifest, "gateway": GatewayConfig}
"""The files a JSON Schema is published for, by the name `micro-mcp config schema` takes."""
SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def schema(kind: str) -> str:
    """The JSON Schema of a manifest or a gateway config, as the text of a file (the package
    ships these under `micro_mcp/schemas/`, for editors to validate with)."""
    model = SCHEMAS[kind]
    document = {"$schema": SCHEMA_DIALECT, **model.model_json_schema(by_alias=True)}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def sections(model: type[BaseModel], path: str) -> Iterator[Section]:
    """`model`'s own section, then those of the objects nested in it, depth first."""
    yield Section(path, model)
    for name, field in model.model_fields.items():
        nested = _nested(field.annotation)
        if nested is None:
            continue
        child, keyed = nested
        key = field.alias or name
        prefix = f"{path}.{key}" if path else key
        yield from sections(child, f"{prefix}.<name>" if keyed else prefix)


def undocumented(model: type[BaseModel]) -> list[str]:
    """Keys (with their paths) whose field has no docstring."""
    return [
        f"{section.path or '(top level)'}: {field.alias or name}"
        for section in sections(model, "")
        for name, field in section.model.model_fields.items()
        if not field.description
    ]


def _table(section: Section) -> str:
    title = f"`{section.path}`" if section.path else "Top level"
    doc = " ".join((section.model.__doc__ or "").split())
    lines = [f"\n### {title}\n", f"\n{doc}\n" if doc else "", "\n"]
    lines.append("| key | type | default | meaning |\n|---|---|---|---|\n")
    for name, field in section.model.model_fields.items():
        key = field.alias or name
        meaning = " ".join((field.description or "").split())
        cells = (f"`{key}`", _type(field), _default(field), meaning)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n")
    return "".join(lines)


def _nested(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model inside an annotation, and whether it is keyed by name (`dict[str, Model]`)."""
    for arg in _options(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg, False
        if get_origin(arg) is dict:
            value = get_args(arg)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value, True
    return None


def _options(annotation: Any) -> list[Any]:
    if get_origin(annotation) in (Union, types.UnionType):
        return [arg for arg in get_args(annotation) if arg is not type(None)]
    return [annotation]


def _type(field: FieldInfo) -> str:
    annotation = field.annotation
    text = " or ".join(_type_name(arg) for arg in _options(annotation))
    if type(None) in get_args(annotation):
        text += " or null"
    bounds = [_bound(item) for item in field.metadata]
    return ", ".join([text, *(bound for bound in bounds if bound)])


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return " | ".join(json.dumps(value) for value in get_args(annotation))
    if origin is tuple or origin is list:
        return f"list of {_type_name(get_args(annotation)[0])}"
    if origin is dict:
        return f"object of {_type_name(get_args(annotation)[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object (below)"
    names: dict[object, str] = {str: "string", int: "integer", float: "number", bool: "boolean"}
    found = cast(object, annotation)
    return names.get(found, str(getattr(found, "__name__", found)))


def _bound(item: object) -> str:
    match item:
        case annotated_types.Ge(ge=value):
            return f">= {value}"
        case annotated_types.Gt(gt=value):
            return f"> {value}"
        case annotated_types.Le(le=value):
            return f"<= {value}"
        case annotated_types.Lt(lt=value):
            return f"< {value}"
        case annotated_types.MinLen(min_length=value):
            return f"at least {value} characters"
        case _:
            return ""


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # pyright: ignore[reportCallIssue]: no arguments
    else:
        value = field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "(below)"
    if isinstance(value, tuple):
        value = list(cast(tuple[Any, ...], value))
    return f"`{json.dumps(value)}`"
