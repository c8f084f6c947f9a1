"""Metrics, spans and logs that real calls through a gateway to a real service produce."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anyio
import httpx2
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from micro_mcp import codes
from micro_mcp.audit.sinks import MemoryAuditSink
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core.dispatcher import Dispatcher
from micro_mcp.gateway.credentials import build_authenticator
from micro_mcp.gateway.operator.admin import Admin
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.telemetry.metrics import Metrics
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.telemetry.tracing import Tracing
from tests.e2e.conftest import demo, gateway_argv, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN}-01"
OPERATOR = "operator-token-0123456789abcdef"


class Gateway:
    """A dispatcher over a real mesh, driven request by request like a client would."""

    def __init__(self, dispatcher: Dispatcher, client: ClientSession) -> None:
        self.dispatcher = dispatcher
        self.client = client
        self.replies: dict[RequestId, Message] = {}
        self._next = 0

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Message:
        self._next += 1
        message: Message = {"jsonrpc": "2.0", "id": self._next, "method": method}
        if params is not None:
            message["params"] = params
        await self.dispatcher.handle_request(self.client, message)
        return self.replies.pop(self._next)

    async def call(self, tool: str, arguments: dict[str, Any], meta: Any = None) -> Message:
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        if meta is not None:
            params["_meta"] = meta
        return await self.request("tools/call", params)


@asynccontextmanager
async def in_process(
    tmp_path: Path, recorder: Recorder, config: dict[str, Any] | None = None
) -> AsyncGenerator[Gateway]:
    """The gateway's dispatcher and mesh in this process, over the demo service as a real
    subprocess; the test plays the client."""
    manifest = Manifest.model_validate({"mcpServers": {"demo": demo()}})
    gateway_config = GatewayConfig.model_validate(config or {})
    mesh = Mesh(manifest, gateway_config, tmp_path)
    dispatcher = Dispatcher(mesh, MemoryAuditSink(), recorder)
    Admin(mesh, recorder, transport="stdio", operator_token=None, loopback=True)

    async def deliver(message: Message, related: RequestId | None) -> None:
        if "id" in message and "method" not in message:
            gateway.replies[message["id"]] = message

    principal = build_authenticator(gateway_config).open_principal
    gateway = Gateway(dispatcher, ClientSession(deliver, principal))
    async with anyio.create_task_group() as tg:
        await tg.start(mesh.run)
        with anyio.fail_after(30):
            await mesh.started.wait()
        initialize = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"},
        }
        assert "result" in await gateway.request("initialize", initialize)
        yield gateway
        tg.cancel_scope.cancel()


def received_meta(reply: Message) -> dict[str, Any]:
    """What the demo's `meta` tool saw in its `_meta`."""
    return json.loads(reply["result"]["content"][0]["text"])


async def test_a_known_sequence_of_calls_yields_these_metrics_and_spans(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    metrics = Metrics()
    recorder = Recorder(metrics, Tracing(exporter, batch=False))
    async with in_process(tmp_path, recorder, {"policy": {"deny": ["demo.crash"]}}) as gateway:
        echoed = await gateway.call("demo.echo", {"text": "hi"}, {"traceparent": TRACEPARENT})
        seen = received_meta(await gateway.call("demo.meta", {}, {"traceparent": TRACEPARENT}))
        unknown = await gateway.call("demo.nosuch-tool-with-a-name-a-client-made-up", {})
        denied = await gateway.call("demo.crash", {})
        await gateway.request("tools/list")
        exposition, _ = metrics.render(None)  # while the service runs
    assert echoed["result"]["content"][0]["text"] == "hi"
    assert unknown["error"]["code"] == codes.INVALID_PARAMS
    assert denied["error"]["code"] == codes.POLICY_DENIED

    sample = metrics.registry.get_sample_value

    def requests(service: str, tool: str, method: str, outcome: str) -> float | None:
        labels = {"service": service, "tool": tool, "method": method, "outcome": outcome}
        return sample("micro_mcp_requests_total", labels)

    assert requests("", "", "initialize", "ok") == 1
    assert requests("demo", "echo", "tools/call", "ok") == 1
    assert requests("demo", "meta", "tools/call", "ok") == 1
    assert requests("", "(unknown)", "tools/call", "error") == 1
    assert requests("demo", "crash", "tools/call", "denied") == 1
    assert requests("", "", "tools/list", "ok") == 1
    errors = "micro_mcp_request_errors_total"
    assert sample(errors, {"service": "", "method": "tools/call", "code": "-32602"}) == 1
    assert sample(errors, {"service": "demo", "method": "tools/call", "code": "-32010"}) == 1
    denials = {"principal": "anonymous", "service": "demo", "tool": "crash"}
    assert sample("micro_mcp_policy_denials_total", denials) == 1
    echo_timing = {"service": "demo", "tool": "echo", "method": "tools/call"}
    assert sample("micro_mcp_request_duration_seconds_count", echo_timing) == 1
    assert b'micro_mcp_service_state{service="demo",state="ready"} 1.0' in exposition
    assert b'micro_mcp_circuit_state{service="demo",state="closed"} 1.0' in exposition
    assert b'micro_mcp_catalog_items{kind="prompts",service="demo"} 1.0' in exposition
    assert b'micro_mcp_upstream_in_flight{service="demo"} 0.0' in exposition
    assert metrics.tallies["demo"] == [3, 0]  # echo, meta, the denied call; none failed
    assert b"nosuch" not in exposition  # a made-up name never becomes a series

    spans = exporter.get_finished_spans()
    servers = {span.name: span for span in spans if span.kind is SpanKind.SERVER}
    clients = {span.name: span for span in spans if span.kind is SpanKind.CLIENT}
    assert list(servers) == [
        "initialize",
        "tools/call demo.echo",
        "tools/call demo.meta",
        "tools/call",
        "tools/call demo.crash",
        "tools/list",
    ]
    assert list(clients) == ["tools/call echo", "tools/call meta"]  # the service's own names
    echo, call = servers["tools/call demo.echo"], clients["tools/call echo"]
    assert echo.context is not None and call.context is not None and call.parent is not None
    assert format(echo.context.trace_id, "032x") == TRACE_ID  # the client's trace goes on
    assert echo.parent is not None and format(echo.parent.span_id, "016x") == CLIENT_SPAN
    assert call.parent.span_id == echo.context.span_id
    assert echo.attributes is not None and echo.attributes["micro_mcp.service"] == "demo"
    assert servers["tools/list"].parent is None  # no context from the client: a new trace
    assert servers["tools/call"].status.status_code is StatusCode.ERROR
    assert servers["tools/call demo.crash"].status.status_code is StatusCode.ERROR
    assert echo.status.status_code is StatusCode.UNSET

    # The service got the context of the gateway's upstream span: its spans join the trace.
    meta_call = clients["tools/call meta"]
    assert meta_call.context is not None
    assert seen["traceparent"] == f"00-{TRACE_ID}-{meta_call.context.span_id:016x}-01"


async def test_without_tracing_the_clients_trace_context_reaches_the_service_as_sent(
    tmp_path: Path,
) -> None:
    meta = {"traceparent": TRACEPARENT, "tracestate": "vendor=1"}
    async with in_process(tmp_path, Recorder()) as gateway:
        seen = received_meta(await gateway.call("demo.meta", {}, meta))
    assert seen["traceparent"] == TRACEPARENT
    assert seen["tracestate"] == "vendor=1"


async def test_http_metrics_status_and_the_traceparent_header(tmp_path: Path) -> None:
    config = {"telemetry": {"operatorToken": OPERATOR}}
    async with http_gateway(tmp_path, {"demo": demo()}, config) as url:
        base = url.removesuffix("/mcp")
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "traceparent": TRACEPARENT,
            "MCP-Protocol-Version": "2026-07-28",
            "Mcp-Method": "tools/call",
            "Mcp-Name": "demo.meta",
        }
        async with httpx2.AsyncClient(timeout=20) as http:
            call: dict[str, Any] = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {},
                    },
                    "name": "demo.meta",
                    "arguments": {},
                },
            }
            reply = (await http.post(url, json=call, headers=headers)).json()
            refused = await http.get(f"{base}/admin/status")
            wrong = await http.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"})
            operator = {"Authorization": f"Bearer {OPERATOR}"}
            status = (await http.get(f"{base}/admin/status", headers=operator)).json()
            scraped = (await http.get(f"{base}/metrics", headers=operator)).text
            page = await http.get(f"{base}/admin")
    assert received_meta(reply)["traceparent"] == TRACEPARENT  # tracing off: passed on as sent
    assert refused.status_code == 401 and wrong.status_code == 401
    assert "Bearer" in refused.headers["www-authenticate"]
    (service,) = status["services"]
    assert service["namespace"] == "demo" and service["state"] == "ready"
    assert service["calls"] == 1 and service["errors"] == 0
    assert service["transport"] == "stdio" and service["circuit"] == "closed"
    assert service["catalog"]["tools"] == status["catalog"]["tools"] > 0
    line = 'micro_mcp_requests_total{method="tools/call",outcome="ok",service="demo",tool="meta"}'
    assert f"{line} 1.0" in scraped
    assert page.status_code == 200 and "micro-mcp" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_stdio_gateway_serves_metrics_on_loopback_and_logs_service_stderr_as_json(
    tmp_path: Path,
) -> None:
    argv = [*gateway_argv(tmp_path, {"demo": demo()}), "--metrics-port", "0"]
    argv += ["--log-format", "json"]
    log = tmp_path / "gateway.log"
    with log.open("wb") as errors:
        process = await anyio.open_process(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
        )
    try:
        port = None
        with anyio.fail_after(30):
            while port is None:  # the log line is the only sign of the port it bound
                found = re.search(rb"http://127\.0\.0\.1:(\d+)/metrics", log.read_bytes())
                port = int(found.group(1)) if found else None
                await anyio.sleep(0.05)
        assert process.stdin is not None and process.stdout is not None
        call: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                },
                "name": "demo.complain",
                "arguments": {"text": "disk nearly full"},
            },
        }
        await process.stdin.send(orjson.dumps(call) + b"\n")
        with anyio.fail_after(20):
            reply = orjson.loads(await process.stdout.receive())
        assert reply["result"]["content"][0]["text"] == "said"
        async with httpx2.AsyncClient(timeout=20) as http:
            scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            rebound = await http.get(
                f"http://127.0.0.1:{port}/metrics", headers={"Host": "evil.example:80"}
            )
            # The console's actions on the loopback listener too: a body read, a tool called.
            played = await http.post(
                f"http://127.0.0.1:{port}/admin/call",
                json={"name": "demo.echo", "arguments": {"text": "over loopback"}},
            )
            tail = (await http.get(f"http://127.0.0.1:{port}/admin/audit?after=0")).json()
        status = await anyio.run_process(
            [*argv[:3], "status", "--url", f"http://127.0.0.1:{port}"], check=False
        )
    finally:
        assert process.stdin is not None
        await process.stdin.aclose()
        with anyio.fail_after(20):
            await process.wait()
        await process.aclose()
    assert 'micro_mcp_service_state{service="demo",state="ready"} 1.0' in scraped
    assert rebound.status_code == 421  # DNS rebinding cannot read it from a web page
    assert played.json()["result"]["content"][0]["text"] == "over loopback"
    operator_calls = [e for e in tail["events"] if e["principal"] == "operator"]
    assert [e["event"] for e in operator_calls] == ["call", "reply"]
    assert status.returncode == 0, status.stderr
    table = status.stdout.decode()
    assert "demo" in table and "ready" in table and "closed" in table
    entries = [json.loads(line) for line in log.read_text().splitlines()]  # audit lines too
    said = [e for e in entries if e.get("message") == "disk nearly full"]
    assert said == [
        {
            "time": said[0]["time"],
            "level": "info",
            "logger": "micro_mcp.service.demo",
            "message": "disk nearly full",
            "service": "demo",
        }
    ]


class _Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP traces receiver: keeps every span it is sent."""

    spans: ClassVar[list[Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                self.spans.extend(scope.spans)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


async def test_spans_are_exported_over_otlp_with_the_clients_trace_id(tmp_path: Path) -> None:
    _Collector.spans = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{server.server_port}/v1/traces"
    config = {"telemetry": {"otlpEndpoint": endpoint, "serviceName": "gw-under-test"}}
    argv = gateway_argv(tmp_path, {"demo": demo()}, config)
    try:
        log = tmp_path / "gateway.log"
        with log.open("wb") as errors:
            process = await anyio.open_process(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors
            )
        assert process.stdin is not None and process.stdout is not None
        call: dict[str, Any] = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientCapabilities": {},
                    "traceparent": TRACEPARENT,
                },
                "name": "demo.meta",
                "arguments": {},
            },
        }
        await process.stdin.send(orjson.dumps(call) + b"\n")
        with anyio.fail_after(20):
            reply = orjson.loads(await process.stdout.receive())
        await process.stdin.aclose()  # the gateway stops, and flushes its spans on the way out
        with anyio.fail_after(30):
            await process.wait()
        await process.aclose()
    finally:
        server.shutdown()
        server.server_close()
    names = {span.name: span for span in _Collector.spans}
    assert set(names) == {"tools/call demo.meta", "tools/call meta"}, log.read_text()
    request, upstream = names["tools/call demo.meta"], names["tools/call meta"]
    assert request.trace_id.hex() == upstream.trace_id.hex() == TRACE_ID
    assert request.parent_span_id.hex() == CLIENT_SPAN
    assert upstream.parent_span_id == request.span_id
    seen = received_meta(reply)["traceparent"]
    assert seen == f"00-{TRACE_ID}-{upstream.span_id.hex()}-01"  # the service joins the trace
