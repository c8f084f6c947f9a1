"""Replicas announcing themselves in a shared store: who is alive, and whether they agree on
the config and version they run."""

from __future__ import annotations

import logging

import pytest

from micro_mcp.config.model import GatewayConfig, ServiceSpec
from micro_mcp.gateway.access import fingerprint
from micro_mcp.state import replicas as replicas_module
from micro_mcp.state.replicas import Replica, Replicas, describe
from micro_mcp.state.store import MemoryStore

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_an_announcement_lives_its_ttl_and_every_live_member_is_returned() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await store.announce("g", "a", b"1", 10.0)
    clock.now = 5.0
    assert await store.announce("g", "b", b"2", 10.0) == {"a": b"1", "b": b"2"}
    clock.now = 12.0
    assert await store.announce("g", "b", b"3", 10.0) == {"b": b"3"}
    assert await store.announce("other", "c", b"4", 10.0) == {"c": b"4"}


async def test_replicas_on_one_store_see_each_other_and_report_a_disagreement(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryStore()
    configs = {"a": "c1", "b": "c1"}
    a = Replicas(store, "1.0", lambda: configs["a"], me="a")
    b = Replicas(store, "1.0", lambda: configs["b"], me="b")
    await a.announce()
    await b.announce()
    assert [r.id for r in b.seen] == ["a", "b"] and b.agreed

    configs["b"] = "c2"  # b reloaded an edited config
    with caplog.at_level(logging.INFO, logger=replicas_module.__name__):
        await b.announce()
        await a.announce()
        assert not a.agreed and not b.agreed
        configs["a"] = "c2"
        await a.announce()
    assert a.agreed
    said = [r.getMessage() for r in caplog.records]
    assert sum("run different configs" in m for m in said) == 2  # once by each, not per beat
    assert any("agree again: config c2" in m for m in said)


async def test_a_replica_of_another_version_disagrees_too() -> None:
    store = MemoryStore()
    old = Replicas(store, "1.0", lambda: "c", me="old")
    new = Replicas(store, "1.1", lambda: "c", me="new")
    await old.announce()
    await new.announce()
    assert not new.agreed
    assert "version 1.0 on 1" in describe(new.seen, "new")


async def test_an_unreadable_announcement_is_ignored() -> None:
    store = MemoryStore()
    await store.announce(replicas_module.GROUP, "junk", b"{not json", 10.0)
    await store.announce(replicas_module.GROUP, "partial", b'{"config": "c"}', 10.0)
    me = Replicas(store, "1.0", lambda: "c", me="me")
    await me.announce()
    assert me.seen == (Replica("me", "c", "1.0"),)


def test_who_runs_what_is_said_per_config_with_this_replica_named() -> None:
    seen = (Replica("a", "c1", "1"), Replica("b", "c1", "1"), Replica("c", "c2", "1"))
    assert describe(seen, "c") == "config c1 on 2, config c2 on 1 (this one among them)"


def test_the_fingerprint_follows_the_config_and_the_services() -> None:
    config = GatewayConfig()
    services = {"fs": ServiceSpec(command="python")}
    same = fingerprint(GatewayConfig(), {"fs": ServiceSpec(command="python")})
    assert fingerprint(config, services) == same
    assert fingerprint(config.model_copy(update={"page_size": 7}), services) != same
    assert fingerprint(config, {"fs": ServiceSpec(command="python3")}) != same
    assert fingerprint(config, {"files": ServiceSpec(command="python")}) != same
