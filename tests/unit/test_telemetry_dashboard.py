"""The Grafana dashboard in deploy/ asks only for series the gateway exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, cast

from micro_mcp.telemetry.metrics import Metrics
from micro_mcp.telemetry.status import GatewayStatus, ServiceStatus

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "micro-mcp.json"


def _exported() -> set[str]:
    """Every sample name a gateway with one service and some traffic exposes."""
    metrics = Metrics()
    service = ServiceStatus(
        namespace="fs",
        state="ready",
        error=None,
        transport="stdio",
        era="modern",
        uptime_seconds=1.0,
        restarts=0,
        in_flight=0,
        queued=0,
        max_concurrent=64,
        circuit="closed",
        catalog={"tools": 1},
        calls=0,
        errors=0,
        calls_per_second=0.0,
        errors_per_second=0.0,
    )
    metrics.watch(lambda: GatewayStatus("0", "stdio", 0.0, 1.0, 0, {}, (service,)))
    metrics.request("fs", "read", "tools/call", "error", -32013, 0.1)
    metrics.denial("anonymous", "fs", "read")
    text, _ = metrics.render(None)
    return {
        line.split("{")[0].split(" ")[0]
        for line in text.decode().splitlines()
        if line and not line.startswith("#")
    }


def _expressions(node: Any) -> list[str]:
    """Every `expr` string anywhere in parsed JSON."""
    found: list[str] = []
    if isinstance(node, dict):
        mapping = cast("dict[str, Any]", node)
        expr = mapping.get("expr")
        if isinstance(expr, str):
            found.append(expr)
        for value in mapping.values():
            found += _expressions(value)
    elif isinstance(node, list):
        for value in cast("list[Any]", node):
            found += _expressions(value)
    return found


def test_every_dashboard_query_names_an_exported_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = _expressions(dashboard["panels"])
    assert len(expressions) >= 20
    exported = _exported()
    named = {
        name
        for expr in expressions
        for name in re.findall(r"\b((?:micro_mcp|process)_[a-z_]+)\b", expr)
    }
    assert named, "the dashboard queries no metric at all"
    assert named <= exported, f"not exported: {sorted(named - exported)}"


def test_dashboard_panels_have_unique_ids_and_a_prometheus_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    assert {"instance", "service"} <= set(variables)
