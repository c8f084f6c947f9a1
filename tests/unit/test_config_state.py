"""The `state` section: the store's URL, and the sealing key from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from micro_mcp.config.state import MIN_KEY_CHARS, StateSpec
from micro_mcp.errors import ConfigError


def test_no_state_section_means_no_store_and_no_given_key() -> None:
    spec = StateSpec()
    assert spec.redis is None
    assert spec.sealing_key({"ANY": "x" * 64}) is None


def test_a_url_redis_py_cannot_connect_by_is_refused() -> None:
    with pytest.raises(ValidationError, match="must start with one of"):
        StateSpec.model_validate({"redis": "http://cache:6379"})


def test_the_url_is_shown_without_its_password() -> None:
    spec = StateSpec.model_validate({"redis": "redis://:hunter2@cache:6379/1"})
    assert spec.shown() == "redis://cache:6379/1"


def test_the_sealing_key_comes_from_the_named_variable() -> None:
    spec = StateSpec.model_validate({"sealingKeyEnv": "SEAL"})
    assert spec.sealing_key({"SEAL": "k" * MIN_KEY_CHARS}) == b"k" * MIN_KEY_CHARS


@pytest.mark.parametrize("environ", [{}, {"SEAL": "k" * (MIN_KEY_CHARS - 1)}])
def test_a_named_sealing_key_that_is_missing_or_short_stops_the_start(
    environ: dict[str, str],
) -> None:
    spec = StateSpec.model_validate({"sealingKeyEnv": "SEAL"})
    with pytest.raises(ConfigError, match=r"state.sealingKeyEnv: \$SEAL"):
        spec.sealing_key(environ)
