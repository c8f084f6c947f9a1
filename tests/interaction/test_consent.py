"""Consent in memory: a call named in `consent.tools` runs only once the human approved it,
asked with `elicitation/create` (handshake era) or an `input_required` result (2026-07-28)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from mcp.server import MCPServer

from micro_mcp import codes
from micro_mcp.gateway.core.consent import INPUT_KEY, Consent
from micro_mcp.gateway.core.consent_seal import PREFIX
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.upstream.memory import Inbox, Outbox
from tests.interaction.harness import Client, Gateway, Tap, gateway, modern_meta, sdk_service

pytestmark = pytest.mark.anyio

ALICE, BOB = "alice-token-0123456789", "bob-token-0123456789ab"
ASKS: dict[str, Any] = {"elicitation": {}}


def _fs() -> Tap:
    server = MCPServer("fs")

    @server.tool()
    def write(path: str, content: str) -> str:
        return f"wrote {len(content)} to {path}"

    @server.tool()
    def read(path: str) -> str:
        return f"read {path}"

    return Tap(sdk_service(server))


def _config(**consent: Any) -> dict[str, Any]:
    return {
        "principals": {"alice": {"token": ALICE}, "bob": {"token": BOB}},
        "consent": {"tools": ["fs.write"], **consent},
    }


def _write(path: str = "notes.txt", content: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"name": "fs.write", "arguments": {"path": path, "content": content}, **extra}


def _answering(action: str, approve: bool = True) -> Any:
    def answer(message: Message) -> dict[str, Any]:
        assert message["method"] == "elicitation/create"
        return (
            {"action": action, "content": {"approve": approve}}
            if action == "accept"
            else {"action": action}
        )

    return answer


async def _handshake(gw: Gateway, capabilities: dict[str, Any] | None = ASKS) -> Client:
    client = gw.client(ALICE)
    await client.initialize(capabilities)
    return client


def _asked(client: Client) -> list[Message]:
    return [m for m, _ in client.deliveries if m.get("method") == "elicitation/create"]


def _decisions(gw: Gateway) -> list[str | None]:
    return [e.consent for e in gw.audit.of(event="consent")]


# --- handshake era ---------------------------------------------------------------------------


async def test_an_approved_call_runs_after_the_human_was_asked_with_tool_service_and_args() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        reply = await client.request("tools/call", _write(content="x" * 200))
        assert reply["result"]["structuredContent"] == {"result": "wrote 200 to notes.txt"}
        (question,) = _asked(client)
        assert question["params"]["mode"] == "form"
        message = question["params"]["message"]
        assert '"fs.write"' in message
        assert 'service "fs"' in message
        assert '"path": "notes.txt"' in message
        assert "(202 characters)" in message  # the long value only as a preview
        assert "x" * 100 not in message
        assert question["params"]["requestedSchema"]["required"] == ["approve"]
        assert (question, 1 + 1) in client.deliveries  # on the call's own response stream
        assert len(fs.of("tools/call")) == 1
        assert _decisions(gw) == ["granted"]


@pytest.mark.parametrize(
    ("action", "approve", "reason"),
    [("decline", True, "declined"), ("cancel", True, "cancelled"), ("accept", False, "declined")],
)
async def test_a_refused_call_never_reaches_the_service(
    action: str, approve: bool, reason: str
) -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = await _handshake(gw)
        client.answer = _answering(action, approve)
        reply = await client.request("tools/call", _write())
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert reply["error"]["data"] == {"reason": reason, "tool": "fs.write"}
        assert fs.of("tools/call") == []
        (record,) = gw.audit.of(event="consent")
        assert (record.consent, record.name, record.service) == (reason, "fs.write", "fs")
        assert (record.principal, record.reason) == (
            "alice",
            reply["error"]["message"].split(": ", 1)[1],
        )
        ended = await gw.audit.wait_for(event="reply", method="tools/call")
        assert (ended.outcome, ended.error_code) == ("denied", codes.CONSENT_REFUSED)


async def test_a_client_without_the_elicitation_capability_is_refused_clearly() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = await _handshake(gw, capabilities={})
        reply = await client.request("tools/call", _write())
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert reply["error"]["data"]["reason"] == "unavailable"
        assert "'elicitation' capability" in reply["error"]["message"]
        assert fs.of("tools/call") == []
        assert _asked(client) == []


async def test_a_client_that_does_not_answer_in_time_is_refused() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config(timeout=0.05)) as gw:
        client = await _handshake(gw)  # no `answer`: the question stays unanswered
        reply = await client.request("tools/call", _write())
        assert reply["error"]["data"]["reason"] == "timeout"
        assert fs.of("tools/call") == []


async def test_an_approval_is_remembered_on_the_session_for_the_tool() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        for path in ("a.txt", "b.txt", "a.txt"):  # other arguments too, by default
            assert "result" in await client.request("tools/call", _write(path))
        assert len(_asked(client)) == 1
        assert _decisions(gw) == ["granted", "remembered", "remembered"]
        other = await _handshake(gw)  # the same principal on another session is asked anew
        other.answer = _answering("decline")
        refused = await other.request("tools/call", _write())
        assert refused["error"]["code"] == codes.CONSENT_REFUSED
        assert len(fs.of("tools/call")) == 3


async def test_remembering_by_arguments_asks_again_for_other_arguments() -> None:
    async with gateway({"fs": _fs()}, _config(remember="arguments")) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        for path in ("a.txt", "a.txt", "b.txt"):
            await client.request("tools/call", _write(path))
        assert _decisions(gw) == ["granted", "remembered", "granted"]


async def test_remember_seconds_zero_asks_every_time() -> None:
    async with gateway({"fs": _fs()}, _config(rememberSeconds=0)) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        for _ in range(2):
            await client.request("tools/call", _write())
        assert _decisions(gw) == ["granted", "granted"]


async def test_tools_not_named_are_not_asked_about_and_leave_no_consent_record() -> None:
    async with gateway({"fs": _fs()}, _config()) as gw:
        client = await _handshake(gw)
        reply = await client.request("tools/call", {"name": "fs.read", "arguments": {"path": "x"}})
        assert reply["result"]["structuredContent"] == {"result": "read x"}
        assert _asked(client) == []
        assert gw.audit.of(event="consent") == []


# --- 2026-07-28 ------------------------------------------------------------------------------


def _modern(params: dict[str, Any], capabilities: dict[str, Any] | None = ASKS) -> dict[str, Any]:
    meta = modern_meta(**{versions.CLIENT_CAPABILITIES_KEY: capabilities or {}})
    return {**params, "_meta": meta}


def _answer(state: str, action: str = "accept", approve: bool = True) -> dict[str, Any]:
    response: dict[str, Any] = {"action": action}
    if action == "accept":
        response["content"] = {"approve": approve}
    return {"inputResponses": {INPUT_KEY: response}, "requestState": state}


async def _question(client: Client, params: dict[str, Any]) -> dict[str, Any]:
    reply = await client.request("tools/call", _modern(params))
    result = reply["result"]
    assert result["resultType"] == "input_required", reply
    return result


async def test_a_modern_client_is_asked_with_input_required_and_its_approved_retry_runs() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = gw.client(ALICE)
        question = await _question(client, _write())
        (request,) = question["inputRequests"].values()
        assert request["method"] == "elicitation/create"
        assert '"path": "notes.txt"' in request["params"]["message"]
        assert question["requestState"].startswith(PREFIX)
        assert fs.of("tools/call") == []

        reply = await client.request(
            "tools/call", _modern(_write(**_answer(question["requestState"])))
        )
        assert reply["result"]["structuredContent"] == {"result": "wrote 5 to notes.txt"}
        (call,) = fs.of("tools/call")
        # The gateway's own question and answer stay behind it.
        assert "requestState" not in call["params"]
        assert "inputResponses" not in call["params"]
        assert _decisions(gw) == ["asked", "granted"]


async def test_a_modern_decline_is_refused_and_the_service_never_sees_the_call() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = gw.client(ALICE)
        state = (await _question(client, _write()))["requestState"]
        reply = await client.request("tools/call", _modern(_write(**_answer(state, "decline"))))
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert reply["error"]["data"]["reason"] == "declined"
        assert fs.of("tools/call") == []


def _tampered(state: str) -> str:
    body, _, mac = state.rpartition(".")
    return f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"


def _forged(state: str) -> dict[str, Any]:
    return _write(**_answer(_tampered(state)))


def _other_arguments(state: str) -> dict[str, Any]:
    return _write(path="/etc/passwd", **_answer(state))


def _other_tool(state: str) -> dict[str, Any]:
    return {**_answer(state), "name": "fs.read", "arguments": {"path": "x"}}


def _made_up(state: str) -> dict[str, Any]:
    return _write(**_answer(PREFIX + "e30.AAAA"))


@pytest.mark.parametrize("retry", [_forged, _other_arguments, _other_tool, _made_up])
async def test_a_consent_state_that_does_not_vouch_for_this_call_is_refused(
    retry: Callable[[str], dict[str, Any]],
) -> None:
    fs = _fs()
    config = _config()
    config["consent"]["tools"] = ["fs.*"]
    async with gateway({"fs": fs}, config) as gw:
        client = gw.client(ALICE)
        state = (await _question(client, _write()))["requestState"]
        reply = await client.request("tools/call", _modern(retry(state)))
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert reply["error"]["data"]["reason"] == "invalid"
        assert fs.of("tools/call") == []


async def test_a_consent_state_is_good_for_one_call_and_one_principal() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config(rememberSeconds=0)) as gw:
        alice, bob = gw.client(ALICE), gw.client(BOB)
        state = (await _question(alice, _write()))["requestState"]
        stolen = await bob.request("tools/call", _modern(_write(**_answer(state))))
        assert stolen["error"]["data"]["reason"] == "invalid"
        first = await alice.request("tools/call", _modern(_write(**_answer(state))))
        assert "result" in first
        replayed = await alice.request("tools/call", _modern(_write(**_answer(state))))
        assert replayed["error"]["code"] == codes.CONSENT_REFUSED
        assert "already used" in replayed["error"]["message"]
        assert len(fs.of("tools/call")) == 1


async def test_an_expired_consent_state_is_refused() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config(timeout=1)) as gw:
        clock = [1000.0]
        # The dispatcher's consent is replaceable: with a shared key, or here, a test's clock.
        dispatcher = gw.dispatcher
        dispatcher.consent = Consent(
            gw.config.consent, dispatcher.trail, key=b"k" * 32, clock=lambda: clock[0]
        )
        client = gw.client(ALICE)
        state = (await _question(client, _write()))["requestState"]
        clock[0] += 1
        reply = await client.request("tools/call", _modern(_write(**_answer(state))))
        assert reply["error"]["data"]["reason"] == "invalid"
        assert "expired" in reply["error"]["message"]
        assert fs.of("tools/call") == []


async def test_a_modern_approval_is_remembered_for_the_principal() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        first, later = gw.client(ALICE), gw.client(ALICE)
        state = (await _question(first, _write()))["requestState"]
        await first.request("tools/call", _modern(_write(**_answer(state))))
        again = await later.request("tools/call", _modern(_write("other.txt")))
        assert again["result"]["structuredContent"] == {"result": "wrote 5 to other.txt"}
        bobs = await gw.client(BOB).request("tools/call", _modern(_write()))
        assert bobs["result"]["resultType"] == "input_required"
        assert _decisions(gw) == ["asked", "granted", "remembered", "asked"]


async def test_a_modern_client_without_the_elicitation_capability_is_refused_clearly() -> None:
    fs = _fs()
    async with gateway({"fs": fs}, _config()) as gw:
        client = gw.client(ALICE)
        reply = await client.request("tools/call", _modern(_write(), capabilities={}))
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert "'elicitation' capability" in reply["error"]["message"]
        assert fs.of("tools/call") == []


async def asking_service(inbox: Inbox, outbox: Outbox) -> None:
    """A 2026-07-28 service whose `deploy` asks for input itself before it answers."""
    answers: dict[str, Any] = {
        "server/discover": {
            "supportedVersions": [versions.LATEST_MODERN],
            "capabilities": {"tools": {}},
        },
        "tools/list": {"tools": [{"name": "deploy", "inputSchema": {"type": "object"}}]},
    }
    async for raw in inbox:
        message = orjson.loads(raw)
        if "id" not in message:
            continue
        params: dict[str, Any] = message.get("params") or {}
        if message["method"] == "tools/call" and params.get("requestState") != "svc-state":
            question = {"method": "elicitation/create", "params": {"message": "which region?"}}
            result = {
                "resultType": "input_required",
                "inputRequests": {"region": question},
                "requestState": "svc-state",
            }
        elif message["method"] == "tools/call":
            region = params["inputResponses"]["region"]["content"]["region"]
            result = {"content": [{"type": "text", "text": f"deployed to {region}"}]}
        else:
            result = answers.get(message["method"], {})
        await outbox.send(jsonrpc.encode(jsonrpc.result(message["id"], result)))


async def test_a_services_own_round_resumes_under_the_approval_with_its_state_intact() -> None:
    ops = Tap(asking_service)
    config = {**_config(), "consent": {"tools": ["ops.deploy"], "rememberSeconds": 0}}
    async with gateway({"ops": ops}, config) as gw:
        client = gw.client(ALICE)
        call = {"name": "ops.deploy", "arguments": {"build": 7}}
        state = (await _question(client, call))["requestState"]
        services = (await client.request("tools/call", _modern({**call, **_answer(state)})))[
            "result"
        ]
        assert list(services["inputRequests"]) == ["region"]
        # The service's state goes out sealed inside the gateway's: only this call resumes it.
        sealed = services["requestState"]
        assert sealed.startswith(PREFIX)
        assert "svc-state" not in sealed
        region = {"region": {"action": "accept", "content": {"region": "eu"}}}
        resumed = {**call, "inputResponses": region, "requestState": sealed}
        done = await client.request("tools/call", _modern(resumed))
        assert done["result"]["content"][0]["text"] == "deployed to eu"
        last = ops.of("tools/call")[-1]["params"]
        assert (last["requestState"], last["inputResponses"]) == ("svc-state", region)
        assert _decisions(gw) == ["asked", "granted", "resumed"]

        calls = len(ops.of("tools/call"))
        replayed = await client.request("tools/call", _modern(resumed))
        assert replayed["error"]["data"]["reason"] == "invalid"
        # The service's bare state does not stand for an approval: the human is asked anew.
        bare = {**call, "inputResponses": region, "requestState": "svc-state"}
        assert (await _question(client, bare))["requestState"].startswith(PREFIX)
        moved = await client.request("tools/call", _modern({**resumed, "arguments": {"build": 8}}))
        assert moved["error"]["data"]["reason"] == "invalid"
        assert len(ops.of("tools/call")) == calls


async def test_a_call_over_its_rate_limit_is_refused_before_anyone_is_asked() -> None:
    fs = _fs()
    config = {
        **_config(rememberSeconds=0),
        "rateLimits": {"rules": [{"id": "one", "rate": "1/minute"}]},
    }
    async with gateway({"fs": fs}, config) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        assert "result" in await client.request("tools/call", _write())
        limited = await client.request("tools/call", _write())
        assert limited["error"]["code"] == codes.RATE_LIMITED
        assert len(_asked(client)) == 1
        assert _decisions(gw) == ["granted"]


# --- a consent rule ---------------------------------------------------------------------------


async def test_a_consent_rule_asks_only_where_its_condition_holds_and_names_itself() -> None:
    fs = _fs()
    config = {
        "principals": {"alice": {"token": ALICE}},
        "rules": [
            {"id": "fs-all", "effect": "allow", "tools": ["fs.*"]},
            {
                "id": "ask-outside-docs",
                "effect": "consent",
                "tools": ["fs.write"],
                "when": '!under(args.path, "docs")',
            },
        ],
    }
    async with gateway({"fs": fs}, config) as gw:
        client = await _handshake(gw)
        client.answer = _answering("accept")
        inside = await client.request("tools/call", _write(path="docs/a.md"))
        assert "result" in inside
        assert _asked(client) == []  # the condition does not hold: nobody is asked
        outside = await client.request("tools/call", _write(path="src/a.py"))
        assert outside["result"]["structuredContent"] == {"result": "wrote 5 to src/a.py"}
        (question,) = _asked(client)
        assert '"src/a.py"' in question["params"]["message"]
        (record,) = gw.audit.of(event="consent")
        assert (record.consent, record.rule) == ("granted", "ask-outside-docs")
        client.answer = _answering("decline")
        refused = await client.request("tools/call", _write(path="src/b.py"))
        # Remembered for the tool on this session: not asked again within the window.
        assert "result" in refused
        assert len(fs.of("tools/call")) == 3


async def test_a_declined_consent_rule_keeps_the_call_from_the_service() -> None:
    fs = _fs()
    config = {
        "principals": {"alice": {"token": ALICE}},
        "rules": [{"id": "ask", "effect": "consent", "tools": ["fs.write"]}],
        "consent": {"rememberSeconds": 0},
    }
    async with gateway({"fs": fs}, config) as gw:
        client = await _handshake(gw)
        client.answer = _answering("decline")
        reply = await client.request("tools/call", _write())
        assert reply["error"]["code"] == codes.CONSENT_REFUSED
        assert fs.of("tools/call") == []
        listed = await client.request("tools/list", {})
        assert [t["name"] for t in listed["result"]["tools"]] == ["fs.write"]  # read: no rule
