"""The cache of reads in memory: a result the service marks cacheable is answered from the
gateway while fresh (per principal when private), after policy; an update drops it; hits and
misses are counted."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from mcp.server.caching import CacheHint
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.versions import Era
from tests.interaction.harness import Client, Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
PRINCIPALS = {
    "alice": {"tokenSha256": hashlib.sha256(ALICE.encode()).hexdigest()},
    "bob": {
        "tokenSha256": hashlib.sha256(BOB.encode()).hexdigest(),
        "policy": {"deny": ["fs.file:///secret.txt"]},
    },
}


def _fs(scope: str = "public", ttl_ms: int = 60_000) -> tuple[Tap, list[int]]:
    reads = [0]
    hints: Any = {"resources/read": CacheHint(ttl_ms=ttl_ms, scope=scope)}
    server = MCPServer("fs", cache_hints=hints)

    @server.resource("file:///notes.txt")
    def notes() -> str:
        reads[0] += 1
        return f"notes, read {reads[0]}"

    @server.resource("file:///secret.txt")
    def secret() -> str:
        return "secret"

    return Tap(sdk_service(server)), reads


async def _read(client: Client, uri: str = "fs+file:///notes.txt", modern: bool = False) -> Any:
    params: dict[str, Any] = {"uri": uri}
    if modern:
        params["_meta"] = modern_meta()
    return await client.request("resources/read", params)


def _text(reply: dict[str, Any]) -> str:
    return reply["result"]["contents"][0]["text"]


async def test_a_cacheable_read_is_answered_from_the_gateway_while_fresh() -> None:
    fs, reads = _fs()
    async with gateway({"fs": fs}, {"cache": {}}) as gw:
        session = gw.mesh.services["fs"].session
        assert session is not None and session.era is Era.MODERN, "hints count from 2026-07-28"
        client = gw.client()
        await client.initialize()
        first, second = await _read(client), await _read(client)
        assert _text(first) == _text(second) == "notes, read 1"
        assert reads == [1]
        assert "ttlMs" not in second["result"], "a handshake-era client gets no cache hints"
        assert second["result"]["contents"][0]["uri"] == "fs+file:///notes.txt"
        modern = await _read(gw.client(), modern=True)
        assert _text(modern) == "notes, read 1"
        assert 0 < modern["result"]["ttlMs"] <= 60_000
        assert modern["result"]["cacheScope"] == "public"
        assert gw.dispatcher.cache is not None
        stats = gw.dispatcher.cache.stats()
        assert (stats.hits, stats.misses, stats.entries) == (2, 1, 1)
        metrics = gw.dispatcher.telemetry.metrics.registry
        labels = {"service": "fs", "result": "hit"}
        assert metrics.get_sample_value("micro_mcp_cache_lookups_total", labels) == 2


async def test_a_private_result_is_kept_per_principal_and_policy_runs_before_the_cache() -> None:
    fs, reads = _fs(scope="private")
    async with gateway({"fs": fs}, {"cache": {}, "principals": PRINCIPALS}) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        assert _text(await _read(alice)) == _text(await _read(alice)) == "notes, read 1"
        assert _text(await _read(bob)) == "notes, read 2"
        assert reads == [2]
        assert _text(await _read(alice, "fs+file:///secret.txt")) == "secret"
        denied = await _read(bob, "fs+file:///secret.txt")
        assert denied["error"]["code"] == codes.POLICY_DENIED


async def test_a_resource_update_drops_the_cached_read() -> None:
    fs, reads = _fs()
    async with gateway({"fs": fs}, {"cache": {}}) as gw:
        client = gw.client()
        await client.initialize()
        await client.request("resources/subscribe", {"uri": "fs+file:///notes.txt"})
        assert _text(await _read(client)) == "notes, read 1"
        updated = {"uri": "file:///notes.txt"}
        await fs.send(jsonrpc.notification("notifications/resources/updated", updated))
        await client.notification("notifications/resources/updated")
        assert _text(await _read(client)) == "notes, read 2"
        assert reads == [2]


async def test_a_result_with_no_ttl_is_read_every_time_and_no_cache_costs_nothing() -> None:
    fs, reads = _fs(ttl_ms=0)
    async with gateway({"fs": fs}, {"cache": {}}) as gw:
        client = gw.client()
        await client.initialize()
        await _read(client)
        await _read(client)
        assert reads == [2]
    fs, reads = _fs()
    async with gateway({"fs": fs}) as gw:
        assert gw.dispatcher.cache is None
        client = gw.client()
        await client.initialize()
        await _read(client)
        await _read(client)
        assert reads == [2]
