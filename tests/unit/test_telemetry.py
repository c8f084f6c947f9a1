"""Telemetry in memory: bounded labels, rates, trace context in `_meta`, JSON logs, admin."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rich.console import Console

from micro_mcp.cli import status as status_cli
from micro_mcp.config.model import GatewayConfig, Manifest
from micro_mcp.config.telemetry import TelemetrySpec
from micro_mcp.errors import UpstreamTimeout
from micro_mcp.gateway.operator.admin import Admin
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.telemetry import logs, tracing
from micro_mcp.telemetry.metrics import OTHER, Metrics, code_label, method_label
from micro_mcp.telemetry.recorder import Recorder
from micro_mcp.telemetry.status import GatewayStatus, ReplicaStatus
from micro_mcp.telemetry.tracing import Tracing

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_methods_and_codes_outside_known_sets_share_one_label() -> None:
    assert method_label("tools/call") == "tools/call"
    assert method_label("x/" + "a" * 500) == OTHER
    assert code_label(-32602) == "-32602"
    assert code_label(7) == OTHER
    assert code_label(-1) == OTHER


def test_request_counts_series_and_tallies_a_services_calls_and_failures() -> None:
    metrics = Metrics()
    metrics.request("fs", "read", "tools/call", "ok", None, 0.002)
    metrics.request("fs", "read", "tools/call", "ok", None, 0.004)
    metrics.request("fs", "read", "tools/call", "tool_error", None, 0.001)
    metrics.request("fs", "", "resources/read", "error", -32002, 0.001)
    metrics.request("fs", "read", "tools/call", "denied", -32010, 0.0)
    metrics.request("", "", "tools/list", "ok", None, 0.0001)
    sample = metrics.registry.get_sample_value
    labels = {"service": "fs", "tool": "read", "method": "tools/call", "outcome": "ok"}
    assert sample("micro_mcp_requests_total", labels) == 2
    timing = {"service": "fs", "tool": "read", "method": "tools/call"}
    assert sample("micro_mcp_request_duration_seconds_count", timing) == 4
    assert sample("micro_mcp_request_duration_seconds_bucket", {**timing, "le": "0.0025"}) == 3
    errors = {"service": "fs", "method": "resources/read", "code": "-32002"}
    assert sample("micro_mcp_request_errors_total", errors) == 1
    assert metrics.tallies == {"fs": [5, 2]}  # denials are not the service's failures


def test_rates_cover_the_window_since_the_oldest_sample() -> None:
    clock = Clock()
    metrics = Metrics(clock)
    for _ in range(10):
        metrics.request("fs", "read", "tools/call", "ok", None, 0.001)
    clock.now += 5
    assert metrics.rates("fs") == (2.0, 0.0)
    metrics.sample()
    for _ in range(14):  # the window slides past the first sample
        clock.now += 5
        metrics.sample()
    metrics.request("fs", "read", "tools/call", "error", -32603, 0.001)
    calls, errors = metrics.rates("fs")
    assert calls == errors == pytest.approx(1 / 60)
    assert metrics.rates("nobody") == (0.0, 0.0)


def test_adopt_header_fills_meta_only_when_the_client_sent_no_context() -> None:
    bare: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    tracing.adopt_header(bare, TRACEPARENT, "k=v")
    assert bare["params"] == {"_meta": {"traceparent": TRACEPARENT, "tracestate": "k=v"}}
    own = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    carried: dict[str, Any] = {"id": 2, "method": "tools/call", "params": {"_meta": dict(own)}}
    tracing.adopt_header(carried, TRACEPARENT, None)
    assert carried["params"]["_meta"] == own  # `_meta` wins over the header
    odd: dict[str, Any] = {"id": 3, "method": "x", "params": {"_meta": "not an object"}}
    tracing.adopt_header(odd, TRACEPARENT, None)
    assert odd["params"]["_meta"] == "not an object"
    untouched: dict[str, Any] = {"id": 4, "method": "x"}
    tracing.adopt_header(untouched, None, None)
    assert "params" not in untouched


def test_without_a_request_span_the_upstream_hook_changes_nothing() -> None:
    meta = {"traceparent": TRACEPARENT}
    outbound: dict[str, Any] = {"name": "read", "_meta": meta}
    with tracing.upstream("tools/call", "fs", "read", outbound):
        pass
    assert outbound["_meta"] is meta


def _trace(meta: object) -> tuple[InMemorySpanExporter, dict[str, Any], dict[str, Any]]:
    """One request span with `meta` from the client, and one upstream call inside it."""
    exporter = InMemorySpanExporter()
    traced = Tracing(exporter, batch=False)
    client_meta: dict[str, Any] = {"traceparent": TRACEPARENT, "tracestate": "client=1"}
    outbound: dict[str, Any] = {"name": "read", "_meta": client_meta}
    traced.begin(7, "tools/call fs.read", meta, {"mcp.method.name": "tools/call"}, 0.0)
    traced.begin(7, "a second begin for the same request is ignored", None, {}, 0.0)
    with pytest.raises(UpstreamTimeout), tracing.upstream("tools/call", "fs", "read", outbound):
        raise UpstreamTimeout("no answer in 1 s")
    traced.end({"micro_mcp.outcome": "error"}, "JSON-RPC error -32013")
    assert tracing.current_ids() is None
    return exporter, client_meta, outbound


def test_the_upstream_call_carries_its_own_span_in_a_new_meta() -> None:
    exporter, client_meta, outbound = _trace({"traceparent": TRACEPARENT})
    call, request = exporter.get_finished_spans()
    assert request.name == "tools/call fs.read" and call.name == "tools/call read"
    assert call.context is not None and call.parent is not None and request.context is not None
    assert format(call.context.trace_id, "032x") == TRACE_ID
    assert call.parent.span_id == request.context.span_id
    assert call.attributes is not None and call.attributes["error.type"] == "-32013"
    assert outbound["_meta"] is not client_meta  # the client's own `_meta` is never changed
    assert client_meta["traceparent"] == TRACEPARENT
    assert outbound["_meta"]["traceparent"] == f"00-{TRACE_ID}-{call.context.span_id:016x}-01"
    assert "tracestate" not in outbound["_meta"]


@pytest.mark.parametrize("meta", [None, {"traceparent": "garbage"}, {"traceparent": 12}, "x"])
def test_a_missing_or_malformed_client_context_starts_a_new_trace(meta: object) -> None:
    exporter, _, _ = _trace(meta)
    _call, request = exporter.get_finished_spans()
    assert request.parent is None
    assert request.context is not None and format(request.context.trace_id, "032x") != TRACE_ID


def test_tracing_is_off_unless_an_endpoint_is_configured() -> None:
    assert Tracing.from_spec(TelemetrySpec()) is None
    spec = TelemetrySpec.model_validate({"otlpEndpoint": "http://127.0.0.1:9/v1/traces"})
    traced = Tracing.from_spec(spec)
    assert traced is not None
    traced.shutdown()


def test_json_log_lines_carry_the_service_and_the_exception() -> None:
    stream = io.StringIO()
    logs.configure("info", "json", stream)
    try:
        logging.getLogger("micro_mcp.service.fs").info("%s", "disk full", extra={"service": "fs"})
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("micro_mcp.gateway").exception("failed")
    finally:
        logs.configure("warning", "text")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["service"] == "fs" and first["message"] == "disk full"
    assert first["level"] == "info" and first["logger"] == "micro_mcp.service.fs"
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]
    assert "service" not in second


@pytest.mark.anyio
async def test_admin_needs_the_operator_token_or_loopback(tmp_path: Path) -> None:
    mesh = Mesh(Manifest.model_validate({"mcpServers": {}}), GatewayConfig(), tmp_path)
    recorder = Recorder()
    token = "operator-token-0123456789abcdef"
    guarded = Admin(mesh, recorder, transport="http", operator_token=token, loopback=True)
    assert guarded.answer("GET", "/admin/status", None, None).status == 401
    assert guarded.answer("GET", "/metrics", "Bearer wrong", None).status == 401
    assert guarded.answer("GET", "/metrics", f"Bearer {token}", None).status == 200
    ok = guarded.answer("GET", "/admin/status", f"bearer {token}", None)
    assert json.loads(ok.body)["services"] == []
    assert guarded.answer("POST", "/admin/status", f"Bearer {token}", None).status == 405
    assert guarded.answer("GET", "/admin", None, None).status == 200  # the page holds no data
    public = Admin(mesh, recorder, transport="http", operator_token=None, loopback=False)
    assert public.answer("GET", "/metrics", None, None).status == 403
    local = Admin(mesh, recorder, transport="http", operator_token=None, loopback=True)
    assert b"micro_mcp_start_time_seconds" in local.answer("GET", "/metrics", None, None).body
    openmetrics = local.answer("GET", "/metrics", None, "application/openmetrics-text")
    assert dict(openmetrics.headers)[b"content-type"].startswith(b"application/openmetrics-text")


def test_status_table_shows_each_service_and_its_error_share() -> None:
    document = {
        "version": "0.1.0",
        "transport": "stdio",
        "uptime_seconds": 3725,
        "clients": 1,
        "catalog": {"tools": 3, "prompts": 0, "resources": 0, "resourceTemplates": 1},
        "services": [
            {
                "namespace": "fs",
                "state": "ready",
                "uptime_seconds": 65,
                "restarts": 2,
                "circuit": "closed",
                "in_flight": 1,
                "max_concurrent": 64,
                "queued": 0,
                "catalog": {"tools": 3, "prompts": 0, "resources": 0, "resourceTemplates": 1},
                "calls": 40,
                "calls_per_second": 4.0,
                "errors_per_second": 1.0,
                "error": None,
            },
            {"namespace": "vec", "state": "failed", "error": "command not found: 'vec'"},
        ],
    }
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(status_cli.render(document))
    text = console.export_text()
    assert "up 1h 02m" in text
    assert "3 tools, 0 prompts, 1 resources" in text  # the caption counts as the rows do
    fs_row = next(line for line in text.splitlines() if " fs " in line)
    for cell in ("ready", "1m 05s", "closed", "1/64", "40", "4.00", "1.00", "25.0"):
        assert cell in fs_row
    assert "failed" in text and "command not found: 'vec'" in text


def test_status_lists_profiles_and_the_cache_only_when_there_are_some() -> None:
    assert status_cli.render_profiles({"services": []}) is None
    document = {
        "profiles": [
            {
                "name": "files",
                "description": "the notes",
                "endpoint": "/mcp/p/files",
                "catalog": {"tools": 3, "prompts": 1, "resources": 2, "resourceTemplates": 1},
            }
        ],
        "cache": {"entries": 4, "bytes": 900, "hits": 3, "misses": 1},
    }
    table = status_cli.render_profiles(document)
    assert table is not None
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    text = console.export_text()
    row = next(line for line in text.splitlines() if "/mcp/p/files" in line)
    for cell in ("files", " 3 ", " 1 ", "the notes"):
        assert cell in row
    assert "4 entries, 900 bytes, 3 hits, 1 misses (75% hits)" in text


def test_durations_read_like_a_person_would_say_them() -> None:
    assert status_cli.duration(None) == "-"
    assert status_cli.duration(9.7) == "9s"
    assert status_cli.duration(187) == "3m 07s"
    assert status_cli.duration(2 * 3600 + 5 * 60) == "2h 05m"
    assert status_cli.duration(28 * 3600) == "1d 4h"


def test_status_lists_replicas_and_says_when_they_disagree() -> None:
    assert status_cli.render_replicas({"services": []}) is None
    replicas = [
        {"id": "pod-a:1", "config": "3f2a91c0d4e1", "version": "0.4.0", "this": True},
        {"id": "pod-b:1", "config": "9c1b00aa11bb", "version": "0.4.0", "this": False},
    ]
    console = Console(width=200, record=True, file=io.StringIO())
    for document in ({"replicas": replicas}, {"replicas": replicas[:1]}):
        table = status_cli.render_replicas(document)
        assert table is not None
        console.print(table)
    text = console.export_text()
    assert "replicas: 2, they DISAGREE on config or version" in text
    assert "replicas: 1, they agree" in text
    assert "pod-a:1 (this one)" in text and "9c1b00aa11bb" in text


def test_the_replicas_metric_counts_replicas_by_the_config_they_run() -> None:
    metrics = Metrics()
    seen = (
        ReplicaStatus("a", "c1", "1", True),
        ReplicaStatus("b", "c1", "1", False),
        ReplicaStatus("c", "c2", "1", False),
    )
    status = GatewayStatus("1", "http", 0.0, 1.0, 0, {}, (), config="c1", replicas=seen)
    metrics.watch(lambda: status)
    text, _ = metrics.render(None)
    assert b'micro_mcp_replicas{config="c1",version="1"} 2.0' in text
    assert b'micro_mcp_replicas{config="c2",version="1"} 1.0' in text
