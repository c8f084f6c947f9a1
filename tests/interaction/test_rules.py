"""Rules in memory: conditions on arguments, listings filtered by them, the deciding rule in the
audit trail, and resource URIs matched and forwarded in normal form.

`alice` is in group `docs-team`, which may read files under `docs/` only; `bob` may fetch from
`*.example.com`; nobody may touch `private/`, as a tool argument or as a resource, by one rule.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from mcp.server.mcpserver import MCPServer

from micro_mcp import codes
from micro_mcp.errors import ConfigError
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import Tap, gateway, sdk_service

pytestmark = pytest.mark.anyio

ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
CAROL = "carol-token-0123456789"
RULES: list[dict[str, Any]] = [
    {
        "id": "docs-only",
        "effect": "allow",
        "groups": ["docs-team"],
        "tools": ["fs.readFileText"],
        "when": 'under(args.path, "docs")',
    },
    {"id": "browse", "effect": "allow", "tools": ["fs.listDir"], "resources": ["fs.*"]},
    {
        "id": "example-hosts",
        "effect": "allow",
        "principals": ["bob"],
        "tools": ["web.fetchText"],
        "when": 'glob(host(args.url), "*.example.com")',
    },
    {
        "id": "no-private",
        "effect": "deny",
        "tools": ["fs.*"],
        "resources": ["fs.*"],
        "when": 'uri.startsWith("file:///private/") || '
        '(has(args.path) && under(args.path, "private"))',
    },
    {"id": "no-writes", "effect": "deny", "tools": ["fs.write*"]},
]
UPDATED = "notifications/resources/updated"
CONFIG: dict[str, Any] = {
    "principals": {
        "alice": {"token": ALICE, "groups": ["docs-team"]},
        "bob": {"token": BOB},
        "carol": {
            "token": CAROL,
            "policy": {"deny": ["fs.file:///secret/*", "pol.pol://items/42"]},
        },
    },
    "rules": RULES,
}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def readFileText(path: str) -> str:
        return f"text of {path}"

    @server.tool()
    def listDir(path: str) -> str:
        return f"entries of {path}"

    @server.tool()
    def writeFile(path: str, text: str) -> str:
        return "written"

    @server.resource("file:///{+path}")
    def file(path: str) -> str:
        return f"file {path}"

    return Tap(sdk_service(server))


def _web() -> Tap:
    server = MCPServer("web")

    @server.tool()
    def fetchText(url: str) -> str:
        return f"page {url}"

    return Tap(sdk_service(server))


def _pol() -> Tap:
    server = MCPServer("pol")

    @server.resource("pol://items/{item}")
    def item(item: str) -> str:
        return f"item {item}"

    return Tap(sdk_service(server))


def _tools(reply: dict[str, Any]) -> list[str]:
    return sorted(tool["name"] for tool in reply["result"]["tools"])


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


async def test_listing_shows_what_a_rule_may_allow_and_hides_what_none_can() -> None:
    async with gateway({"fs": _fs(), "web": _web()}, CONFIG) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        await alice.initialize()
        await bob.initialize()
        # readFileText is allowed on a condition: listed. writeFile is denied outright, and
        # web.fetchText has no rule for alice: default deny.
        assert _tools(await alice.request("tools/list")) == ["fs.listDir", "fs.readFileText"]
        assert _tools(await bob.request("tools/list")) == ["fs.listDir", "web.fetchText"]


async def test_calls_are_checked_on_their_arguments_before_the_service() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        allowed = await alice.request("tools/call", _call("fs.readFileText", path="docs/a.md"))
        assert allowed["result"]["content"][0]["text"] == "text of docs/a.md"
        for path in ("src/main.py", "docs/../private/key.txt", "./private/key.txt", "/docs/a"):
            denied = await alice.request("tools/call", _call("fs.readFileText", path=path))
            assert denied["error"]["code"] == codes.POLICY_DENIED, path
        missing = await alice.request("tools/call", _call("fs.readFileText"))
        assert missing["error"]["code"] == codes.POLICY_DENIED
        sent = [m["params"]["arguments"] for m in fs.of("tools/call")]
        assert sent == [{"path": "docs/a.md"}]


async def test_host_rule_reads_the_url_argument() -> None:
    web = _web()
    async with gateway({"web": web}, CONFIG) as gw:
        bob = gw.client(BOB)
        await bob.initialize()
        ok = await bob.request(
            "tools/call", _call("web.fetchText", url="https://api.example.com/a")
        )
        assert "result" in ok
        for url in (
            "https://example.com.evil.io/",
            "https://api.example.com@evil.io/",
            "https://evil.io\\@api.example.com/",
            "ftp:/nohost",
        ):
            denied = await bob.request("tools/call", _call("web.fetchText", url=url))
            assert denied["error"]["code"] == codes.POLICY_DENIED, url
        assert len(web.of("tools/call")) == 1


async def test_audit_records_name_the_deciding_rule_and_why() -> None:
    async with gateway({"fs": _fs()}, CONFIG) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        await alice.request("tools/call", _call("fs.readFileText", path="docs/a.md"))
        await alice.request("tools/call", _call("fs.readFileText", path="docs/../private/k"))
        await alice.request("tools/call", _call("fs.readFileText", path="src/a.py"))
        await alice.request("tools/call", _call("fs.writeFile", path="docs/a.md", text="x"))
        calls = gw.audit.of(event="call", method="tools/call")
        assert [(c.decision, c.rule) for c in calls] == [
            ("allow", "docs-only"),
            ("deny", "no-private"),
            ("deny", None),
            ("deny", "no-writes"),
        ]
        assert calls[0].reason == "rule 'docs-only' allows it: condition holds"
        assert calls[1].reason == "rule 'no-private' denies it: condition holds"
        assert calls[2].reason == "no rule allows it ('docs-only': condition false)"
        assert calls[3].reason == "rule 'no-writes' denies it"
        denied = gw.audit.of(event="reply", outcome="denied", error_code=codes.POLICY_DENIED)
        assert len(denied) == 3


async def test_without_rules_the_audit_record_is_as_before() -> None:
    async with gateway({"fs": _fs()}, {"principals": {"alice": {"token": ALICE}}}) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        await alice.request("tools/call", _call("fs.readFileText", path="private/k"))
        call = await gw.audit.wait_for(event="call", method="tools/call")
        assert (call.decision, call.rule, call.reason) == ("allow", None, None)


async def test_one_rule_denies_a_tool_and_the_same_content_as_a_resource() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        for uri in (
            "fs+file:///private/key.txt",
            "fs+file:///./private/key.txt",
            "fs+file:///public/../private/key.txt",
            "fs+file:///%70rivate/key.txt",
            "fs+FILE:////private/key.txt",
            "fs+file:/private/key.txt",
            "fs+file://localhost/private/key.txt",
        ):
            denied = await alice.request("resources/read", {"uri": uri})
            assert denied["error"]["code"] == codes.POLICY_DENIED, uri
        listed = await alice.request("tools/call", _call("fs.listDir", path="private"))
        assert listed["error"]["code"] == codes.POLICY_DENIED
        assert fs.of("resources/read") == fs.of("tools/call") == []
        rules = {e.rule for e in gw.audit.of(event="call", decision="deny")}
        assert rules == {"no-private"}


async def test_resource_policy_matches_the_normal_form_and_the_service_reads_it() -> None:
    fs, pol = _fs(), _pol()
    async with gateway({"fs": fs, "pol": pol}, {**CONFIG, "rules": [*RULES, _POL_RULE]}) as gw:
        carol = gw.client(CAROL)
        await carol.initialize()
        for uri in (
            "fs+file:///secret/k.txt",
            "fs+file:///./secret/k.txt",
            "fs+file:///docs/../secret/k.txt",
            "fs+file:///%73ecret/k.txt",
            "pol+pol://items/42",
            "pol+pol://items/%34%32",
            "pol+POL://ITEMS/./42",
        ):
            denied = await carol.request("resources/read", {"uri": uri})
            assert denied["error"]["code"] == codes.POLICY_DENIED, uri
        # An escaped separator could be decoded by the service after the match: refused.
        escaped = await carol.request("resources/read", {"uri": "fs+file:///docs%2F..%2Fsecret/k"})
        assert escaped["error"]["code"] == codes.INVALID_PARAMS
        assert fs.of("resources/read") == pol.of("resources/read") == []

        read = await carol.request("resources/read", {"uri": "fs+file:///docs/./x/../a%2Emd"})
        assert read["result"]["contents"][0]["text"] == "file docs/a.md"
        assert read["result"]["contents"][0]["uri"] == "fs+file:///docs/a.md"
        assert [m["params"]["uri"] for m in fs.of("resources/read")] == ["file:///docs/a.md"]
        other = await carol.request("resources/read", {"uri": "pol+pol://items/%34%33"})
        assert other["result"]["contents"][0]["text"] == "item 43"
        assert [m["params"]["uri"] for m in pol.of("resources/read")] == ["pol://items/43"]


_POL_RULE: dict[str, Any] = {"id": "items", "effect": "allow", "resources": ["pol.*"]}


async def _watched(inbox: Inbox, outbox: Outbox) -> None:
    """A handshake-era service that takes subscriptions (the SDK server serves them only over
    2026-07-28)."""
    initialize = {
        "protocolVersion": versions.LATEST_HANDSHAKE,
        "capabilities": {"resources": {"subscribe": True}},
        "serverInfo": {"name": "fs", "version": "0"},
    }
    async for raw in inbox:
        message = orjson.loads(raw)
        if "id" in message and "method" in message:
            result = initialize if message["method"] == "initialize" else {}
            await outbox.send(jsonrpc.encode(jsonrpc.result(message["id"], result)))


async def test_a_subscription_is_kept_under_the_normal_form_the_updates_use() -> None:
    fs = Tap(_watched)
    async with gateway({"fs": fs}, CONFIG) as gw:
        alice = gw.client(ALICE)
        await alice.initialize()
        subscribed = await alice.request("resources/subscribe", {"uri": "fs+file:///docs/./a"})
        assert subscribed["result"] == {}
        assert [m["params"] for m in fs.of("resources/subscribe")] == [{"uri": "file:///docs/a"}]
        denied = await alice.request("resources/subscribe", {"uri": "fs+file:///docs/../private/k"})
        assert denied["error"]["code"] == codes.POLICY_DENIED
        await fs.send(jsonrpc.notification(UPDATED, {"uri": "file:///docs/a"}))
        update = await alice.notification(UPDATED)
        assert update["params"] == {"uri": "fs+file:///docs/a"}


async def test_a_rule_with_invalid_cel_stops_the_gateway_naming_the_rule() -> None:
    bad = {**CONFIG, "rules": [{"id": "oops", "effect": "allow", "tools": ["*"], "when": "args.("}]}
    with pytest.raises(ConfigError, match=r"rules\[0\] \(id 'oops'\): when:"):
        async with gateway({"fs": _fs()}, bad):
            pass


async def test_prompt_rules_read_the_prompt_arguments_and_completions_follow_the_listing() -> None:
    server = MCPServer("docs")

    @server.prompt()
    def summarize(topic: str) -> str:
        return f"summarize {topic}"

    @server.prompt()
    def hidden() -> str:
        return "hidden"

    docs = Tap(sdk_service(server))
    rules = [
        {
            "id": "no-secrets",
            "effect": "allow",
            "prompts": ["docs.summarize"],
            "when": 'args.topic != "secrets"',
        }
    ]
    async with gateway({"docs": docs}, {"rules": rules}) as gw:
        client = gw.client()
        await client.initialize()
        listed = await client.request("prompts/list")
        assert [p["name"] for p in listed["result"]["prompts"]] == ["docs.summarize"]
        ok = await client.request(
            "prompts/get", {"name": "docs.summarize", "arguments": {"topic": "cats"}}
        )
        assert ok["result"]["messages"][0]["content"]["text"] == "summarize cats"
        for name, arguments in (("docs.summarize", {"topic": "secrets"}), ("docs.hidden", {})):
            denied = await client.request("prompts/get", {"name": name, "arguments": arguments})
            assert denied["error"]["code"] == codes.POLICY_DENIED, name
        argument = {"name": "topic", "value": "c"}
        completion = await client.request(
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "docs.summarize"}, "argument": argument},
        )
        assert completion.get("error", {}).get("code") != codes.POLICY_DENIED
        assert len(docs.of("completion/complete")) == 1  # passed to the service, which answers
        refused = await client.request(
            "completion/complete",
            {"ref": {"type": "ref/prompt", "name": "docs.hidden"}, "argument": argument},
        )
        assert refused["error"]["code"] == codes.POLICY_DENIED
        assert len(docs.of("completion/complete")) == 1
        assert [m["params"]["arguments"] for m in docs.of("prompts/get")] == [{"topic": "cats"}]
