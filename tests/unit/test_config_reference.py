"""docs/CONFIG.md and the packaged JSON Schemas are what the config models say, key for key."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from micro_mcp.cli.main import main
from micro_mcp.config import reference
from micro_mcp.config.model import GatewayConfig, Manifest

REPO = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate it with `bash scripts/config-docs`"


def test_config_md_is_the_reference_the_models_give() -> None:
    written = (REPO / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    assert written == reference.render(), f"docs/CONFIG.md is stale: {REGENERATE}"


@pytest.mark.parametrize("kind", sorted(reference.SCHEMAS))
def test_the_packaged_schemas_are_those_the_models_give(kind: str) -> None:
    packaged = resources.files("micro_mcp").joinpath("schemas", f"{kind}.schema.json")
    assert packaged.read_text(encoding="utf-8") == reference.schema(kind), (
        f"src/micro_mcp/schemas/{kind}.schema.json is stale: {REGENERATE}"
    )


def test_every_key_has_a_docstring_for_the_reference() -> None:
    assert reference.undocumented(Manifest) == []
    assert reference.undocumented(GatewayConfig) == []


def test_the_reference_lists_every_key_with_its_alias_type_and_default() -> None:
    text = reference.render()
    assert "| `maxMessageBytes` | integer, >= 1024 | `8388608` |" in text
    assert '| `protocol` | "auto" \\| "handshake" \\| "modern" | `"auto"` |' in text
    assert "### `mcpServers.<name>.sandbox`" in text and "### `telemetry`" in text
    for key in ("otlpHeaders", "sampleRatio", "serviceName", "includeArguments", "cwd"):
        assert f"| `{key}` |" in text


def test_the_examples_validate_against_the_schemas_and_a_typo_does_not() -> None:
    gateway = json.loads(reference.schema("gateway"))
    manifest = json.loads(reference.schema("manifest"))
    examples = REPO / "examples"
    jsonschema.validate(json.loads((examples / "gateway.config.example.json").read_text()), gateway)
    jsonschema.validate(json.loads((examples / "discovery.example.json").read_text()), manifest)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"mcpServers": {"fs": {"command": "x", "timout": 5}}}, manifest)


def test_config_check_validates_either_kind_of_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "check", str(REPO / "examples" / "discovery.example.json")]) == 0
    assert "a valid manifest: 3 services" in capsys.readouterr().out
    assert main(["config", "check", str(REPO / "examples" / "gateway.config.example.json")]) == 0
    assert "a valid gateway config: 2 principal(s)" in capsys.readouterr().out
    typo = tmp_path / "gateway.yaml"
    typo.write_text("audit:\n  pth: audit.jsonl\n")
    assert main(["config", "check", str(typo)]) == 2
    assert "audit.pth: Extra inputs are not permitted" in capsys.readouterr().err
