"""The merged catalog: renaming, routing, clashes and the per-principal policy view."""

from __future__ import annotations

import copy

import pytest
from inline_snapshot import snapshot

from micro_mcp import codes
from micro_mcp.errors import Held
from micro_mcp.policy.model import Policy
from micro_mcp.protocol.names import Namer
from micro_mcp.registry.catalog import KINDS, Catalog, Route, ServiceCatalog

FS = ServiceCatalog(
    tools=({"name": "read", "inputSchema": {"type": "object"}}, {"name": "write"}),
    prompts=({"name": "summarize", "arguments": [{"name": "path"}]},),
    resources=({"uri": "file:///a.txt", "name": "a"},),
    resource_templates=({"uriTemplate": "file:///{path}", "name": "file"},),
)
VECTOR = ServiceCatalog(
    tools=({"name": "search", "annotations": {"readOnlyHint": True}},),
    resources=({"uri": "vector://index", "name": "index"},),
)


def two_services() -> Catalog:
    namers = {"fs": Namer("fs"), "vector": Namer("vector", separator="__")}
    # Services arrive in any order; the manifest order (the namers) decides the merge order.
    return Catalog.build(3, namers, {"vector": VECTOR, "fs": FS})


def test_build_merges_tools_in_manifest_order_with_renamed_names():
    tools = two_services().visible("tools", "p", Policy())
    assert tools == snapshot(
        [
            {"name": "fs.read", "inputSchema": {"type": "object"}},
            {"name": "fs.write"},
            {"name": "vector__search", "annotations": {"readOnlyHint": True}},
        ]
    )


def test_build_renames_prompts_resources_and_templates():
    catalog = two_services()
    assert catalog.visible("prompts", "p", Policy()) == snapshot(
        [{"name": "fs.summarize", "arguments": [{"name": "path"}]}]
    )
    assert catalog.visible("resources", "p", Policy()) == snapshot(
        [
            {"uri": "fs+file:///a.txt", "name": "a"},
            {"uri": "vector+vector://index", "name": "index"},
        ]
    )
    assert catalog.visible("resourceTemplates", "p", Policy()) == snapshot(
        [{"uriTemplate": "fs+file:///{path}", "name": "file"}]
    )
    assert catalog.generation == 3
    counts = {kind: catalog.count(kind) for kind in KINDS}
    assert counts == {"tools": 3, "prompts": 1, "resources": 2, "resourceTemplates": 1}


def test_build_does_not_mutate_the_upstream_items():
    before = copy.deepcopy((FS, VECTOR))
    two_services()
    assert before == (FS, VECTOR)


def test_items_without_a_string_key_are_left_out():
    service = ServiceCatalog(tools=({"name": 3}, {"title": "no name"}, {"name": "ok"}))
    catalog = Catalog.build(1, {"fs": Namer("fs")}, {"fs": service})
    assert catalog.visible("tools", "p", Policy()) == [{"name": "fs.ok"}]


def test_configured_service_without_a_catalog_contributes_nothing_but_keeps_its_namer():
    catalog = Catalog.build(1, {"fs": Namer("fs"), "down": Namer("down")}, {"fs": FS})
    assert catalog.count("tools") == 2
    assert "down" in catalog.namers
    assert catalog.resource("down+x:y") == Route("down", "x:y", "down.x:y")


def test_tool_and_prompt_route_to_the_owning_service_by_exposed_name():
    catalog = two_services()
    assert catalog.tool("fs.read") == Route("fs", "read", "fs.read")
    assert catalog.tool("vector__search") == Route("vector", "search", "vector.search")
    assert catalog.prompt("fs.summarize") == Route("fs", "summarize", "fs.summarize")


def test_unknown_or_unexposed_names_have_no_route():
    catalog = two_services()
    assert catalog.tool("read") is None
    assert catalog.tool("vector.search") is None
    assert catalog.tool("nope.read") is None
    assert catalog.prompt("fs.read") is None


def test_resource_routes_by_namespace_prefix():
    catalog = two_services()
    assert catalog.resource("fs+file:///a.txt") == Route("fs", "file:///a.txt", "fs.file:///a.txt")
    assert catalog.resource("vector+vector://index") == Route(
        "vector", "vector://index", "vector.vector://index"
    )


def test_resource_with_unknown_namespace_and_no_unprefixed_service_has_no_route():
    catalog = two_services()
    assert catalog.resource("nope+file:///a.txt") is None
    assert catalog.resource("file:///a.txt") is None


def unprefixed_first() -> Catalog:
    root = ServiceCatalog(
        tools=({"name": "fs.read", "description": "root's"}, {"name": "ping"}),
        resources=({"uri": "git+ssh://host/repo", "name": "repo"},),
    )
    namers = {"root": Namer("root", prefixed=False), "fs": Namer("fs")}
    return Catalog.build(1, namers, {"root": root, "fs": FS})


def test_unprefixed_service_keeps_its_names_and_routes_them():
    catalog = unprefixed_first()
    assert catalog.unprefixed == "root"
    assert catalog.tool("ping") == Route("root", "ping", "root.ping")
    assert catalog.resource("git+ssh://host/repo") == Route(
        "root", "git+ssh://host/repo", "root.git+ssh://host/repo"
    )
    assert catalog.resource("file:///b") == Route("root", "file:///b", "root.file:///b")


def test_unknown_namespace_in_a_uri_falls_back_to_the_unprefixed_service():
    assert unprefixed_first().resource("nope+x:y") == Route("root", "nope+x:y", "root.nope+x:y")


def test_unlisted_tool_and_prompt_names_go_to_the_unprefixed_service_to_answer():
    # As the service alone would: it answers for names it does not list (a tool error, its own
    # diagnostics), where the gateway would answer "Unknown tool" for it.
    catalog = unprefixed_first()
    assert catalog.tool("not_listed") == Route("root", "not_listed", "root.not_listed")
    assert catalog.prompt("nope") == Route("root", "nope", "root.nope")
    assert catalog.tool("fs.write") == Route("fs", "write", "fs.write")  # listed: its owner


def test_a_task_id_routes_like_a_uri_by_its_namespace_else_to_the_unprefixed_service():
    assert two_services().task("fs+abc") == Route("fs", "abc", "fs.abc")
    assert two_services().task("abc") is None
    assert unprefixed_first().task("abc") == Route("root", "abc", "root.abc")


def test_prefixed_namespace_in_a_uri_still_routes_to_that_service_when_one_is_unprefixed():
    assert unprefixed_first().resource("fs+file:///a.txt") == Route(
        "fs", "file:///a.txt", "fs.file:///a.txt"
    )


def test_an_unprefixed_service_listed_first_cannot_take_a_prefixed_services_name():
    catalog = unprefixed_first()
    assert catalog.tool("fs.read") == Route("fs", "read", "fs.read")
    tools = catalog.visible("tools", "p", Policy())
    assert [t["name"] for t in tools] == ["ping", "fs.read", "fs.write"]
    assert "description" not in tools[1]  # fs's own, not root's
    assert [(r.namespace, r.kind, r.name) for r in catalog.refused] == [
        ("root", "tools", "fs.read")
    ]
    assert "reads as a name of service fs" in catalog.refused[0].describe()


def test_an_unlisted_name_in_another_services_namespace_never_reaches_the_unprefixed_one():
    # fs is down (nothing listed): `fs.read` must not go to the service without prefix.
    namers = {"root": Namer("root", prefixed=False), "fs": Namer("fs")}
    catalog = Catalog.build(1, namers, {"root": ServiceCatalog(tools=({"name": "ping"},))})
    assert catalog.tool("fs.read") is None
    assert catalog.prompt("fs.summarize") is None
    assert catalog.tool("ping") == Route("root", "ping", "root.ping")


def test_with_separator_dash_service_x_cannot_shadow_service_x_y():
    x = ServiceCatalog(tools=({"name": "y-weather", "description": "x's"}, {"name": "rain"}))
    xy = ServiceCatalog(tools=({"name": "weather"},))
    for order in (("x", "x-y"), ("x-y", "x")):
        namers = {ns: Namer(ns, separator="-") for ns in order}
        catalog = Catalog.build(1, namers, {"x": x, "x-y": xy})
        assert catalog.tool("x-y-weather") == Route("x-y", "weather", "x-y.weather")
        assert catalog.tool("x-rain") == Route("x", "rain", "x.rain")
        assert sorted(t["name"] for t in catalog.visible("tools", "p", Policy())) == [
            "x-rain",
            "x-y-weather",
        ]
        assert [(r.namespace, r.name) for r in catalog.refused] == [("x", "y-weather")]


def test_an_unprefixed_services_uri_in_another_namespace_is_refused():
    root = ServiceCatalog(resources=({"uri": "fs+file:///etc/passwd", "name": "x"},))
    namers = {"root": Namer("root", prefixed=False), "fs": Namer("fs")}
    catalog = Catalog.build(1, namers, {"root": root, "fs": FS})
    assert [r["uri"] for r in catalog.visible("resources", "p", Policy())] == ["fs+file:///a.txt"]
    assert [(r.namespace, r.kind) for r in catalog.refused] == [("root", "resources")]


def test_an_unprefixed_service_listed_after_cannot_take_a_prefixed_services_name():
    root = ServiceCatalog(tools=({"name": "fs.read", "description": "root's"},))
    namers = {"fs": Namer("fs"), "root": Namer("root", prefixed=False)}
    catalog = Catalog.build(1, namers, {"root": root, "fs": FS})
    assert catalog.tool("fs.read") == Route("fs", "read", "fs.read")
    assert [t["name"] for t in catalog.visible("tools", "p", Policy())] == ["fs.read", "fs.write"]


def test_visible_filters_by_canonical_subject_whatever_the_separator():
    catalog = two_services()
    policy = Policy(allow=("vector.*", "fs.read"))
    assert [t["name"] for t in catalog.visible("tools", "ci", policy)] == [
        "fs.read",
        "vector__search",
    ]
    assert catalog.visible("prompts", "ci", policy) == []
    resources = catalog.visible("resources", "ci", Policy(allow=("fs.file:*",)))
    assert [r["uri"] for r in resources] == ["fs+file:///a.txt"]


def test_visible_is_cached_per_principal_and_policy():
    catalog = two_services()
    policy = Policy(allow=("fs.*",))
    first = catalog.visible("tools", "ci", policy)
    assert catalog.visible("tools", "ci", policy) is first
    assert catalog.visible("tools", "ci", Policy(allow=("fs.*",))) is first
    assert catalog.visible("tools", "ops", policy) is not first
    assert catalog.visible("prompts", "ci", policy) is not first


def test_visible_for_another_policy_under_the_same_principal_name_is_not_the_cached_list():
    catalog = two_services()
    wide = catalog.visible("tools", "ci", Policy())
    narrow = catalog.visible("tools", "ci", Policy(allow=("vector.*",)))
    assert len(wide) == 3
    assert [t["name"] for t in narrow] == ["vector__search"]


def test_a_held_tool_is_refused_with_its_own_error_even_on_the_unprefixed_service():
    namers = {"root": Namer("root", prefixed=False), "fs": Namer("fs")}
    held = {"root": [("ping", "tool root.ping changed")], "fs": [("write", "tool fs.write new")]}
    fs = ServiceCatalog(tools=FS.tools[:1])  # pinning took `write` out of the lists
    catalog = Catalog.build(1, namers, {"root": ServiceCatalog(), "fs": fs}, held)
    for exposed, canonical in (("ping", "root.ping"), ("fs.write", "fs.write")):
        with pytest.raises(Held) as refused:
            catalog.tool(exposed)
        assert refused.value.code == codes.TOOL_HELD
        assert f"micro-mcp approve {canonical}" in refused.value.message
    assert catalog.tool("fs.read") == Route("fs", "read", "fs.read")
