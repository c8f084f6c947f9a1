"""The guardrails on any JSON a service could send: never an exception, the payload's shape
kept, nothing changed where nothing was found, and no secret left where one was put."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from micro_mcp.config.guardrails import GuardrailsSpec
from micro_mcp.guardrails import segments
from micro_mcp.guardrails.pipeline import Pipeline
from tests.unit.guardrail_fixtures import AWS_KEY, GITHUB_TOKEN

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["text", "data", "_meta", "a", "b"]), children, max_size=5
        )
    ),
    max_leaves=30,
)
PIPELINE = Pipeline.from_spec(
    GuardrailsSpec.model_validate({"checks": [{"use": "secrets"}, {"use": "injection"}]})
)
CHECKS = PIPELINE.applicable("result", "any.tool")


def _shape(value: Any) -> Any:
    if isinstance(value, str):
        return str
    if isinstance(value, list):
        return [_shape(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_any_json_is_scanned_without_error_and_keeps_its_shape(value: Any) -> None:
    scan = PIPELINE.scan("result", CHECKS, value)
    assert _shape(scan.value) == _shape(value)
    if not any(r.action == "redact" for r in scan.reports):
        assert scan.value is value


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(JSON, st.sampled_from([AWS_KEY, GITHUB_TOKEN]), st.text(max_size=10))
def test_a_secret_put_anywhere_a_reader_sees_is_gone(value: Any, secret: str, pad: str) -> None:
    payload = {"content": [{"type": "text", "text": f"{pad} {secret} {pad}"}], "x": value}
    scan = PIPELINE.scan("result", CHECKS, payload)
    texts = segments.strings(scan.value)
    assert texts is not None
    assert not any(secret in text for text in texts)
