"""The `discovery` section: off by default, names distinct and host-safe, limits in order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from micro_mcp.config.model import GatewayConfig


def test_discovery_is_off_by_default_with_the_gateway_names() -> None:
    spec = GatewayConfig().discovery
    assert not spec.enabled
    assert (spec.names.search, spec.names.describe, spec.names.call) == (
        "gateway.searchTools",
        "gateway.describeTool",
        "gateway.callTool",
    )
    assert spec.listing == "meta"


@pytest.mark.parametrize(
    "discovery",
    [
        {"names": {"search": "same", "describe": "same"}},
        {"names": {"call": "has space"}},
        {"names": {"call": "x" * 65}},
        {"limit": 20, "maxLimit": 10},
        {"listing": "some"},
        {"unknown": True},
    ],
)
def test_a_bad_discovery_section_is_refused(discovery: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GatewayConfig.model_validate({"discovery": {"enabled": True, **discovery}})


def test_the_example_config_validates() -> None:
    example = Path(__file__).resolve().parents[2] / "examples/tool-search.config.example.json"
    spec = GatewayConfig.model_validate(json.loads(example.read_text())).discovery
    assert spec.enabled and spec.max_limit == 50
