"""Profiles: which items a profile holds, which services' changes concern it, and the config
that names them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from micro_mcp.config.model import GatewayConfig
from micro_mcp.config.profiles import ProfileSpec
from micro_mcp.registry.profiles import Profile, resolve

TAGS = {"fs": ("files", "read"), "http": ("web",), "vector": ("search", "read")}


def _profile(**spec: object) -> Profile:
    return resolve({"p": ProfileSpec.model_validate(spec)}, TAGS)["p"]


@pytest.mark.parametrize(
    ("spec", "held", "not_held"),
    [
        ({"services": ["fs"]}, ["fs.readFileText", "fs.file:///a"], ["http.fetch"]),
        ({"tags": ["read"]}, ["fs.listDir", "vector.search"], ["http.fetch"]),
        ({"include": ["*.search*"]}, ["vector.search", "http.searchWeb"], ["fs.listDir"]),
        (
            {"services": ["fs"], "exclude": ["fs.write*"]},
            ["fs.readFileText"],
            ["fs.writeFile", "vector.search"],
        ),
        ({"exclude": ["http.*"]}, ["fs.listDir", "vector.search"], ["http.fetch"]),
        ({"tags": ["nothing-has-it"]}, [], ["fs.listDir", "http.fetch"]),
    ],
)
def test_a_profile_holds_its_services_tags_and_patterns_minus_exclusions(
    spec: dict[str, object], held: list[str], not_held: list[str]
) -> None:
    profile = _profile(**spec)
    assert [s for s in held if profile.holds(s)] == held
    assert [s for s in not_held if profile.holds(s)] == []


def test_a_service_name_is_not_a_prefix_match() -> None:
    profile = _profile(services=["fs"])
    assert not profile.holds("fsx.read")


@pytest.mark.parametrize(
    ("spec", "concerned", "unconcerned"),
    [
        ({"services": ["fs"]}, ["fs"], ["http", "vector"]),
        ({"tags": ["web"]}, ["http"], ["fs", "vector"]),
        ({"include": ["fs.read*"]}, ["fs"], ["http", "vector"]),
        ({"include": ["*.search"]}, ["fs", "http", "vector"], []),
        ({"include": ["f*"]}, ["fs"], ["http", "vector"]),
        ({"exclude": ["fs.*"]}, ["fs", "http", "vector"], []),
    ],
)
def test_a_list_change_concerns_a_profile_only_when_it_could_hold_that_service(
    spec: dict[str, object], concerned: list[str], unconcerned: list[str]
) -> None:
    profile = _profile(**spec)
    assert [ns for ns in concerned if profile.may_hold(ns)] == concerned
    assert [ns for ns in unconcerned if profile.may_hold(ns)] == []


def test_principals_may_be_held_to_profiles_that_exist() -> None:
    config = GatewayConfig.model_validate(
        {
            "profile": "files",
            "profiles": {"files": {"services": ["fs"]}, "web": {"tags": ["web"]}},
            "principals": {
                "alice": {"tokenSha256": "0" * 64, "profiles": ["web", "files"]},
                "bob": {"tokenSha256": "1" * 64, "profile": "web"},
            },
        }
    )
    assert config.principals["alice"].assigned() == ("web", "files")
    assert config.principals["bob"].assigned() == ("web",)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"profile": "nope"}, "profile: no profile 'nope'"),
        (
            {"profiles": {"a": {}}, "principals": {"bob": {"profiles": ["a", "b"]}}},
            "principals.bob.profiles: no profile 'b'",
        ),
        ({"profiles": {"Bad Name": {}}}, "'Bad Name' is not a valid profile name"),
        (
            {"profiles": {"a": {}}, "principals": {"bob": {"profile": "a", "profiles": ["a"]}}},
            "give 'profile' or 'profiles', not both",
        ),
    ],
)
def test_a_config_naming_a_missing_or_malformed_profile_is_refused(
    config: dict[str, object], says: str
) -> None:
    with pytest.raises(ValidationError, match=says):
        GatewayConfig.model_validate(config)
