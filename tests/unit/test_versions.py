"""Protocol versions and eras."""

from __future__ import annotations

import pytest

from micro_mcp.protocol import versions
from micro_mcp.protocol.versions import Era


@pytest.mark.parametrize("version", versions.HANDSHAKE_VERSIONS)
def test_negotiate_handshake_answers_a_version_we_speak_with_that_version(version):
    assert versions.negotiate_handshake(version) == version


@pytest.mark.parametrize(
    "requested", ["2099-01-01", "2026-07-28", "", None, 20250618, ["2025-06-18"]]
)
def test_negotiate_handshake_answers_anything_else_with_the_latest_handshake_version(requested):
    assert versions.negotiate_handshake(requested) == versions.LATEST_HANDSHAKE == "2025-11-25"


def test_request_version_reads_the_protocol_version_from_meta():
    params = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}, "name": "x"}
    assert versions.request_version(params) == "2026-07-28"


@pytest.mark.parametrize(
    "params",
    [
        None,
        {},
        {"_meta": None},
        {"_meta": "2026-07-28"},
        {"_meta": {}},
        {"_meta": {"io.modelcontextprotocol/protocolVersion": 20260728}},
        {"_meta": {"protocolVersion": "2026-07-28"}},
    ],
)
def test_request_version_is_none_without_a_string_version_in_meta(params):
    assert versions.request_version(params) is None


@pytest.mark.parametrize("version", versions.MODERN_VERSIONS)
def test_modern_versions_belong_to_the_modern_era(version):
    assert versions.era_of(version) is Era.MODERN


@pytest.mark.parametrize("version", [*versions.HANDSHAKE_VERSIONS, "unknown"])
def test_handshake_and_unknown_versions_belong_to_the_handshake_era(version):
    assert versions.era_of(version) is Era.HANDSHAKE
