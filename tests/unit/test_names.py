"""Namespacing of names and URIs."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inline_snapshot import snapshot

from micro_mcp.policy.model import Policy
from micro_mcp.protocol import names
from micro_mcp.protocol.names import Namer, NameRules
from micro_mcp.registry.catalog import Catalog, ServiceCatalog


def test_prefixed_name_joins_namespace_and_name_with_the_separator():
    assert Namer("fs").name("listDir") == "fs.listDir"
    assert Namer("fs", separator="__").name("listDir") == "fs__listDir"


def test_prefixed_uri_joins_namespace_and_uri_with_plus():
    assert Namer("fs").uri("file:///a.txt") == "fs+file:///a.txt"
    assert Namer("fs", separator="_").uri("file:///a.txt") == "fs+file:///a.txt"


def test_unprefixed_namer_keeps_names_and_uris():
    namer = Namer("fs", prefixed=False)
    assert namer.name("listDir") == "listDir"
    assert namer.uri("file:///a.txt") == "file:///a.txt"


def test_subject_always_uses_a_dot():
    assert names.subject("fs", "read") == "fs.read"


def test_split_uri_returns_namespace_and_service_uri():
    assert names.split_uri("fs+file:///a+b.txt") == ("fs", "file:///a+b.txt")


@pytest.mark.parametrize(
    "uri", ["file:///a.txt", "fs+", "+file:///a", "Fs+file:///a", "1fs+file:///a", "f_s+x:y"]
)
def test_split_uri_refuses_uris_without_a_valid_namespace(uri):
    assert names.split_uri(uri) is None


_namespace = st.from_regex(r"[a-z][a-z0-9-]{0,31}", fullmatch=True)
_uri = st.builds(lambda scheme, rest: f"{scheme}:{rest}", st.text(), st.text())


@settings(database=None)
@given(namespace=_namespace, uri=_uri)
def test_split_uri_inverts_namer_uri(namespace, uri):
    assert names.split_uri(Namer(namespace).uri(uri)) == (namespace, uri)


@pytest.mark.parametrize("value", ["a", "fs", "my-service", "v2", "a" * 32, "a-"])
def test_valid_namespaces(value):
    assert names.is_namespace(value)


@pytest.mark.parametrize(
    "value", ["", "A", "Fs", "2fs", "-fs", "f_s", "f.s", "f+s", "f s", "a" * 33, "é"]
)
def test_invalid_namespaces(value):
    assert not names.is_namespace(value)


def test_namespace_with_trailing_newline_is_invalid():
    assert not names.is_namespace("fs\n")


def test_rewrite_content_renames_resource_links_and_embedded_resources_only():
    content = [
        {"type": "text", "text": "file:///a.txt", "uri": "file:///not-a-link"},
        {"type": "image", "data": "AA==", "mimeType": "image/png"},
        {"type": "resource_link", "uri": "file:///a.txt", "name": "a"},
        {"type": "resource", "resource": {"uri": "file:///b.txt", "text": "b"}},
        "not a block",
    ]
    Namer("fs").rewrite_content(content)
    assert content == [
        {"type": "text", "text": "file:///a.txt", "uri": "file:///not-a-link"},
        {"type": "image", "data": "AA==", "mimeType": "image/png"},
        {"type": "resource_link", "uri": "fs+file:///a.txt", "name": "a"},
        {"type": "resource", "resource": {"uri": "fs+file:///b.txt", "text": "b"}},
        "not a block",
    ]


def test_rewrite_content_skips_blocks_whose_uri_is_not_a_string():
    content = [{"type": "resource_link", "uri": 3}, {"type": "resource", "resource": "x"}]
    Namer("fs").rewrite_content(content)
    assert content == [{"type": "resource_link", "uri": 3}, {"type": "resource", "resource": "x"}]


def test_rewrite_content_of_unprefixed_namer_changes_nothing():
    content = [{"type": "resource_link", "uri": "file:///a.txt"}]
    Namer("fs", prefixed=False).rewrite_content(content)
    assert content == [{"type": "resource_link", "uri": "file:///a.txt"}]


@pytest.mark.parametrize("content", [None, {"type": "resource_link", "uri": "x:y"}, "x"])
def test_rewrite_content_ignores_content_that_is_not_a_list(content):
    before = repr(content)
    Namer("fs").rewrite_content(content)
    assert repr(content) == before


# --- names that fit a host's limit and alphabet ----------------------------------------------

LONG_TOOL = "reconcile_quarterly_revenue_across_all_regional_ledgers_in_eu"
"""61 characters: behind `analytics-warehouse.` it would reach a host at 81."""


def test_a_long_name_is_cut_to_64_characters_with_the_namespace_kept_and_a_hash():
    assert len(LONG_TOOL) == 61
    namer = Namer("analytics-warehouse")
    [exposed] = names.expose([(namer, LONG_TOOL)])
    assert exposed == snapshot("analytics-warehouse.reconcile_quarterly_revenue_across_-83c179a5")
    assert exposed is not None and len(exposed) == 64
    assert exposed.startswith("analytics-warehouse.reconcile_quarterly_revenue_across_-")
    digest = hashlib.sha256(b"analytics-warehouse." + LONG_TOOL.encode()).hexdigest()
    assert exposed.endswith("-" + digest[:8])


def test_names_that_fit_are_kept_as_they_are():
    fs = Namer("fs")
    assert names.expose([(fs, "read"), (fs, "a" * 61)]) == ["fs.read", "fs." + "a" * 61]
    assert names.expose([(fs, "a" * 62)]) != ["fs." + "a" * 62]


def test_characters_outside_the_alphabet_are_replaced_and_told_apart_by_the_hash():
    fs = Namer("fs")
    first, second, third = names.expose([(fs, "read file"), (fs, "read/file"), (fs, "read✓")])
    assert first is not None and second is not None and third is not None
    assert first.startswith("fs.read_file-")
    assert second.startswith("fs.read_file-")
    assert third.startswith("fs.read_-")
    assert first != second
    assert all(NameRules().fits(name) for name in (first, second, third))


def test_a_shortened_name_that_meets_a_listed_name_takes_a_longer_hash():
    ns = Namer("ns")
    short = NameRules().shorten("ns." + "x" * 70, "ns." + "x" * 70)
    taken = short.removeprefix("ns.")
    exposed = names.expose([(ns, "x" * 70), (ns, taken)])
    assert exposed[1] == short
    assert exposed[0] is not None
    assert exposed[0] != short
    assert len(exposed[0]) == 64
    assert exposed[0].endswith("-" + hashlib.sha256(("ns." + "x" * 70).encode()).hexdigest()[:12])


def test_a_name_listed_twice_is_exposed_once():
    fs = Namer("fs")
    assert names.expose([(fs, "read"), (fs, "read")]) == ["fs.read", None]
    assert names.expose([(fs, "y" * 80), (fs, "y" * 80)])[1] is None


def test_the_unprefixed_service_is_shortened_too():
    [exposed] = names.expose([(Namer("root", prefixed=False), "z" * 100)])
    assert exposed is not None and len(exposed) == 64 and exposed.startswith("z" * 55 + "-")


def test_a_stricter_alphabet_rewrites_dots_and_a_shorter_limit_cuts_sooner():
    rules = NameRules(48, "A-Za-z0-9_-")
    namer = Namer("fs", separator="_", rules=rules)
    assert names.expose([(namer, "list.dir"), (namer, "list_dir")]) == [
        snapshot("fs_list_dir-885f45b2"),
        "fs_list_dir",
    ]


@pytest.mark.parametrize(
    ("alphabet", "fine"),
    [
        ("A-Za-z0-9_.-", True),
        ("a-z0-9-", True),
        ("A-Z0-9_.-", False),
        ("[", False),
        ("a-z0-9-]", False),
        ("z-a", False),
    ],
)
def test_alphabet_problem_names_what_is_wrong(alphabet, fine):
    assert (names.alphabet_problem(alphabet) is None) is fine


_names = st.one_of(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=90),
    st.text("abcdefghijklmnopqrstuvwxyz_.-", min_size=40, max_size=90),
    st.sampled_from([LONG_TOOL, LONG_TOOL + "_", LONG_TOOL[:-1], "read", "read file"]),
)
_setups = st.sampled_from(
    [
        (".", NameRules()),
        ("__", NameRules()),
        ("_", NameRules(48, "A-Za-z0-9_-")),
        ("/", NameRules(80, "a-z0-9/-")),
    ]
)
_listed = st.lists(
    st.tuples(st.sampled_from(["fs", "analytics-warehouse", "a" * 32, "root"]), _names),
    unique=True,
    max_size=30,
)


def _namers(separator: str, rules: NameRules) -> dict[str, Namer]:
    namespaces = ["fs", "analytics-warehouse", "a" * 32]
    namers = {ns: Namer(ns, separator, rules=rules) for ns in namespaces}
    namers["root"] = Namer("root", separator, prefixed=False, rules=rules)
    return namers


@settings(database=None, max_examples=300)
@given(setup=_setups, listed=_listed)
def test_every_exposed_name_fits_is_unique_and_leads_back_to_its_tool(setup, listed):
    separator, rules = setup
    namers = _namers(separator, rules)
    wanted = [(namers[ns], name) for ns, name in listed]
    exposed = names.expose(wanted)
    given_out = [e for e in exposed if e is not None]
    assert all(rules.fits(e) for e in given_out)
    assert len(set(given_out)) == len(given_out)
    tools = {ns: tuple({"name": n} for ns2, n in listed if ns2 == ns) for ns in namers}
    catalog = Catalog.build(1, namers, {ns: ServiceCatalog(tools=t) for ns, t in tools.items()})
    listed_names = [tool["name"] for tool in catalog.visible("tools", "p", Policy())]
    assert len(set(listed_names)) == len(listed_names)
    for name in listed_names:
        route = catalog.tool(name)
        assert route is not None
        assert (route.namespace, route.name) in listed
        assert route.subject == names.subject(route.namespace, route.name)
    # A name is left out only when an earlier one is exposed the same way (a clash).
    for index, ((ns, name), exposed_name) in enumerate(zip(listed, exposed, strict=True)):
        if exposed_name is None:
            plain = namers[ns].name(name)
            assert any(namers[other].name(n) == plain for other, n in listed[:index])


@settings(database=None, max_examples=200)
@given(
    setup=_setups,
    listed=_listed.filter(lambda xs: all(ns != "root" for ns, _ in xs)),
    data=st.data(),
)
def test_the_same_catalog_gives_the_same_names_in_any_order(setup, listed, data):
    separator, rules = setup
    namers = _namers(separator, rules)
    shuffled = data.draw(st.permutations(listed))
    first = dict(zip(listed, names.expose([(namers[ns], n) for ns, n in listed]), strict=True))
    again = dict(zip(shuffled, names.expose([(namers[ns], n) for ns, n in shuffled]), strict=True))
    assert first == again
    assert None not in first.values()


def test_claimant_is_the_service_with_the_longest_prefix_other_than_the_owner():
    namers = {
        "x": Namer("x", separator="-"),
        "x-y": Namer("x-y", separator="-"),
        "root": Namer("root", separator="-", prefixed=False),
    }
    assert names.claimant("x-y-weather", "x", namers) == "x-y"
    assert names.claimant("x-y-weather", "x-y", namers) is None
    assert names.claimant("x-rain", "x", namers) is None
    assert names.claimant("x-rain", "root", namers) == "x"
    assert names.claimant("root-a", "x", namers) is None  # root has no prefix to claim
    assert names.claimant("xylophone", "root", namers) is None


def test_claimant_of_a_uri_is_the_prefixed_namespace_before_its_plus():
    namers = {"fs": Namer("fs"), "root": Namer("root", prefixed=False)}
    assert names.claimant("fs+file:///a", "root", namers, uri=True) == "fs"
    assert names.claimant("fs+file:///a", "fs", namers, uri=True) is None
    assert names.claimant("git+ssh://h/r", "root", namers, uri=True) is None
    assert names.claimant("fs.x://a", "root", namers, uri=True) is None
