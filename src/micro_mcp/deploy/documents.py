"""Objects as a YAML stream, the form `kubectl apply -f` and compose files take."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with multi-line strings (an embedded manifest) as readable `|` blocks."""


def _string(_dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return yaml.ScalarNode("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def yaml_stream(objects: Iterable[dict[str, Any]]) -> str:
    """One YAML document per object, keys in the order they were built."""
    return yaml.dump_all(objects, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
