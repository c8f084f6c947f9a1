"""Prometheus metrics of one gateway, in a registry of its own (never the process-global one).

Two kinds. Request metrics are counted as requests end (`Metrics.request`), with labels from
fixed or catalog-bounded sets only: a method outside MCP's is `(other)`, a tool name that
resolves to nothing is `(unknown)`, resource URIs and arguments are never labels, so a client
cannot grow the series. State metrics (services, circuits, queues, catalog) are read from a
`GatewayStatus` snapshot when Prometheus scrapes, so they cost the hot path nothing.
"""

from __future__ import annotations

import collections
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector

from micro_mcp.telemetry.status import CIRCUITS, KINDS, STATES, GatewayStatus

REQUESTS: Final = "micro_mcp_requests"
"""Counter `micro_mcp_requests_total{service,tool,method,outcome}`: client requests answered."""
REQUEST_ERRORS: Final = "micro_mcp_request_errors"
"""Counter `micro_mcp_request_errors_total{service,method,code}`: JSON-RPC errors by code."""
REQUEST_DURATION: Final = "micro_mcp_request_duration_seconds"
"""Histogram `{service,tool,method}`: from a request's arrival to its answer."""
RATE_LIMITED: Final = "micro_mcp_rate_limited"
"""Counter `micro_mcp_rate_limited_total{rule,service}`: calls refused by a rate-limit rule."""
RATE_LIMIT_STORE_ERRORS: Final = "micro_mcp_rate_limit_store_errors"
"""Counter `micro_mcp_rate_limit_store_errors_total{failure_mode}`: calls whose limits could not
be counted because the store was unreachable (refused when `closed`, let through when `open`)."""
AUDIT_FAILURES: Final = "micro_mcp_audit_failures"
"""Counter `micro_mcp_audit_failures_total{failure_mode}`: audit records that could not be
written (with `closed`, their calls were refused; with `open`, they went on unaudited)."""
POLICY_DENIALS: Final = "micro_mcp_policy_denials"
"""Counter `micro_mcp_policy_denials_total{principal,service,tool}`: refused by policy or
for want of a token (principal `anonymous?`)."""
CACHE_LOOKUPS: Final = "micro_mcp_cache_lookups"
"""Counter `micro_mcp_cache_lookups_total{service,result}`: reads looked up in the gateway's
cache, `result` `hit` or `miss`."""
GUARDRAIL_DURATION: Final = "micro_mcp_guardrail_duration_seconds"
"""Histogram `{guardrail,stage}`: seconds one guardrail took over one payload (guardrail names
come from the config)."""
GUARDRAIL_FINDINGS: Final = "micro_mcp_guardrail_findings"
"""Counter `micro_mcp_guardrail_findings_total{guardrail,stage,action}`: payloads a guardrail
redacted, blocked or flagged (guardrail `unscannable`: payloads too large, deep or slow)."""
CACHE_ENTRIES: Final = "micro_mcp_cache_entries"
"""Gauge: results the gateway's cache holds now."""
CACHE_BYTES: Final = "micro_mcp_cache_bytes"
"""Gauge: bytes of results the gateway's cache holds now."""
SERVICE_STATE: Final = "micro_mcp_service_state"
"""Gauge `{service,state}`: 1 for the state the service is in, 0 for the others."""
SERVICE_RESTARTS: Final = "micro_mcp_service_restarts"
"""Counter `micro_mcp_service_restarts_total{service}`."""
SERVICE_UPTIME: Final = "micro_mcp_service_uptime_seconds"
"""Gauge `{service}`: seconds since the service's current session opened (0 unless ready)."""
IN_FLIGHT: Final = "micro_mcp_upstream_in_flight"
"""Gauge `{service}`: calls holding one of the service's slots."""
QUEUED: Final = "micro_mcp_upstream_queued"
"""Gauge `{service}`: calls waiting for a slot (the bulkhead's queue)."""
SLOTS: Final = "micro_mcp_upstream_slots"
"""Gauge `{service}`: `maxConcurrent`, so saturation is in-flight over slots."""
CIRCUIT_STATE: Final = "micro_mcp_circuit_state"
"""Gauge `{service,state}`: 1 for the breaker's state (`closed`, `half-open`, `open`)."""
PINS_HELD: Final = "micro_mcp_pins_held"
"""Gauge `{service,state}`: definitions changed since approval, `held` back or `warned` of."""
NAMES_REFUSED: Final = "micro_mcp_names_refused"
"""Gauge `{service}`: names not exposed because they read as another service's, or clash."""
CATALOG_ITEMS: Final = "micro_mcp_catalog_items"
"""Gauge `{service,kind}`: what each service lists."""
REPLICAS: Final = "micro_mcp_replicas"
"""Replicas alive in the shared store, by the config and version each runs (more than one
series: they disagree)."""
CLIENTS: Final = "micro_mcp_client_sessions"
"""Gauge: clients connected now (stdio, HTTP sessions, 2026-07-28 requests in flight)."""
START_TIME: Final = "micro_mcp_start_time_seconds"
"""Gauge: Unix time the gateway started."""

SERVICE: Final = "service"
TOOL: Final = "tool"
METHOD: Final = "method"
OUTCOME: Final = "outcome"
CODE: Final = "code"
PRINCIPAL: Final = "principal"
RULE: Final = "rule"
FAILURE_MODE: Final = "failure_mode"
RESULT: Final = "result"
GUARDRAIL: Final = "guardrail"
STAGE: Final = "stage"
ACTION: Final = "action"

NO_SERVICE: Final = ""
"""The `service` label of requests no service answers (lists, `initialize`)."""
UNKNOWN_NAME: Final = "(unknown)"
"""The `tool` label of a call to a name the catalog does not hold: never the name itself."""
OTHER: Final = "(other)"
"""The `method` label of a method MCP does not define, and the `code` of an unusual code."""
OUTCOMES: Final = ("ok", "tool_error", "error", "denied", "limited", "cancelled")
"""How a request ended (as in the audit trail)."""
FAILED_OUTCOMES: Final = frozenset({"error", "tool_error"})
"""Outcomes that count toward a service's error rate; denials and cancellations do not."""

METHODS: Final = frozenset(
    {
        "initialize",
        "ping",
        "server/discover",
        "logging/setLevel",
        "tools/list",
        "tools/call",
        "prompts/list",
        "prompts/get",
        "resources/list",
        "resources/templates/list",
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
        "completion/complete",
        "subscriptions/listen",
    }
)
"""Methods that get their own `method` label."""
NAMED_METHODS: Final = frozenset({"tools/call", "prompts/get"})
"""Methods whose target name (a tool or prompt in the catalog) is the `tool` label."""
LATENCY_BUCKETS: Final = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
"""Seconds: from a no-op call through the gateway (~0.2 ms) to a default timeout (60 s)."""
GUARDRAIL_BUCKETS: Final = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.5,
    2.0,
)
"""Seconds: from a regex check of a short result (~10 us) to the default guardrail timeout."""
RATE_WINDOW: Final = 60.0
"""Seconds of history behind the call and error rates in `/admin/status`."""
SAMPLE_EVERY: Final = 5.0
"""Seconds between the samples those rates are computed from."""


def method_label(method: str) -> str:
    """The `method` label for a method name a client sent."""
    return method if method in METHODS else OTHER


def code_label(code: int) -> str:
    """The `code` label: JSON-RPC's reserved range is bounded; anything else is `(other)`."""
    return str(code) if -32768 <= code <= -32000 else OTHER


class Metrics:
    """The gateway's metrics, its own registry, and per-service call tallies for rates."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            REQUESTS,
            "Client requests answered.",
            (SERVICE, TOOL, METHOD, OUTCOME),
            registry=self.registry,
        )
        self._errors = Counter(
            REQUEST_ERRORS,
            "Requests answered with a JSON-RPC error, by code.",
            (SERVICE, METHOD, CODE),
            registry=self.registry,
        )
        self._duration = Histogram(
            REQUEST_DURATION,
            "Seconds from a request's arrival to its answer.",
            (SERVICE, TOOL, METHOD),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._denials = Counter(
            POLICY_DENIALS,
            "Requests refused by policy or for want of a valid token.",
            (PRINCIPAL, SERVICE, TOOL),
            registry=self.registry,
        )
        self._rate_limited = Counter(
            RATE_LIMITED,
            "Calls refused by a rate-limit rule (rule ids come from the config).",
            (RULE, SERVICE),
            registry=self.registry,
        )
        self._store_errors = Counter(
            RATE_LIMIT_STORE_ERRORS,
            "Calls whose rate limits could not be counted: the store was unreachable.",
            (FAILURE_MODE,),
            registry=self.registry,
        )
        self._audit_failures = Counter(
            AUDIT_FAILURES,
            "Audit records that could not be written.",
            (FAILURE_MODE,),
            registry=self.registry,
        )
        self._cache = Counter(
            CACHE_LOOKUPS,
            "Reads looked up in the gateway's cache.",
            (SERVICE, RESULT),
            registry=self.registry,
        )
        self._guardrail_duration = Histogram(
            GUARDRAIL_DURATION,
            "Seconds one guardrail took over one payload.",
            (GUARDRAIL, STAGE),
            buckets=GUARDRAIL_BUCKETS,
            registry=self.registry,
        )
        self._guardrail_findings = Counter(
            GUARDRAIL_FINDINGS,
            "Payloads a guardrail redacted, blocked or flagged.",
            (GUARDRAIL, STAGE, ACTION),
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self._status: Callable[[], GatewayStatus] | None = None
        self.registry.register(_StatusCollector(self))
        # Label children by key: `labels()` validates and locks on every call, a dict does not.
        self._request_children: dict[tuple[str, str, str, str], Counter] = {}
        self._duration_children: dict[tuple[str, str, str], Histogram] = {}
        self._guardrail_children: dict[tuple[str, str], Histogram] = {}
        self._clock = clock
        self.tallies: dict[str, list[int]] = {}
        """Service -> [calls, errors] since start."""
        self._samples: deque[tuple[float, dict[str, tuple[int, int]]]] = deque(
            [(clock(), {})], maxlen=int(RATE_WINDOW / SAMPLE_EVERY) + 1
        )

    def watch(self, status: Callable[[], GatewayStatus]) -> None:
        """Read the gateway's state from `status()` at every scrape."""
        self._status = status

    # --- the hot path -----------------------------------------------------------------------

    def request(
        self,
        service: str,
        tool: str,
        method: str,
        outcome: str,
        code: int | None,
        seconds: float,
        exemplar: dict[str, str] | None = None,
    ) -> None:
        """Count one answered request; labels must already be bounded (see `method_label`)."""
        key = (service, tool, method, outcome)
        counter = self._request_children.get(key)
        if counter is None:
            counter = self._request_children[key] = self._requests.labels(*key)
        counter.inc()
        timing = self._duration_children.get(key[:3])
        if timing is None:
            timing = self._duration_children[key[:3]] = self._duration.labels(*key[:3])
        timing.observe(seconds, exemplar)
        if code is not None:
            self._errors.labels(service, method, code_label(code)).inc()
        if service:
            tally = self.tallies.get(service)
            if tally is None:
                tally = self.tallies[service] = [0, 0]
            tally[0] += 1
            if outcome in FAILED_OUTCOMES:
                tally[1] += 1

    def denial(self, principal: str, service: str, tool: str) -> None:
        """Count one request refused by policy or authentication."""
        self._denials.labels(principal, service, tool).inc()

    def rate_limited(self, rule: str, service: str) -> None:
        """Count one call refused by rate-limit rule `rule`."""
        self._rate_limited.labels(rule, service).inc()

    def rate_limit_store_error(self, failure_mode: str) -> None:
        """Count one call whose limits could not be counted (`closed`: refused; `open`: let
        through)."""
        self._store_errors.labels(failure_mode).inc()

    def audit_failure(self, failure_mode: str) -> None:
        """Count one audit record that could not be written."""
        self._audit_failures.labels(failure_mode).inc()

    def cache_lookup(self, service: str, hit: bool) -> None:
        """Count one read looked up in the gateway's cache (`service`: its namespace)."""
        self._cache.labels(service, "hit" if hit else "miss").inc()

    def guardrail(self, guardrail: str, stage: str, seconds: float) -> None:
        """Time one guardrail's scan of one payload (`guardrail`: a name from the config)."""
        timing = self._guardrail_children.get((guardrail, stage))
        if timing is None:
            timing = self._guardrail_duration.labels(guardrail, stage)
            self._guardrail_children[(guardrail, stage)] = timing
        timing.observe(seconds)

    def guardrail_finding(self, guardrail: str, stage: str, action: str) -> None:
        """Count one payload a guardrail redacted, blocked or flagged."""
        self._guardrail_findings.labels(guardrail, stage, action).inc()

    # --- rates ------------------------------------------------------------------------------

    def sample(self) -> None:
        """Remember the tallies now; rates span the samples of the last `RATE_WINDOW`."""
        counts = {name: (calls, errors) for name, (calls, errors) in self.tallies.items()}
        self._samples.append((self._clock(), counts))

    def rates(self, service: str) -> tuple[float, float]:
        """Calls and errors per second of `service` over the rate window."""
        then, counts = self._samples[0]
        elapsed = self._clock() - then
        if elapsed <= 0:
            return 0.0, 0.0
        calls, errors = self.tallies.get(service, (0, 0))
        past_calls, past_errors = counts.get(service, (0, 0))
        return (calls - past_calls) / elapsed, (errors - past_errors) / elapsed

    # --- exposition -------------------------------------------------------------------------

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition the scraper asked for (text, or OpenMetrics with exemplars)."""
        encode, content_type = choose_encoder(accept or "")
        return encode(self.registry), content_type

    def state_metrics(self) -> Iterator[Metric]:
        """The metrics read from the gateway's state at scrape time."""
        if self._status is None:
            return
        status = self._status()
        state = GaugeMetricFamily(
            SERVICE_STATE, "1 for the state a service is in.", labels=(SERVICE, "state")
        )
        restarts = CounterMetricFamily(
            SERVICE_RESTARTS, "Restarts by the supervisor.", labels=(SERVICE,)
        )
        uptime = GaugeMetricFamily(
            SERVICE_UPTIME, "Seconds since the current session opened.", labels=(SERVICE,)
        )
        in_flight = GaugeMetricFamily(IN_FLIGHT, "Calls holding a slot.", labels=(SERVICE,))
        queued = GaugeMetricFamily(QUEUED, "Calls waiting for a slot.", labels=(SERVICE,))
        slots = GaugeMetricFamily(
            SLOTS, "Calls allowed at once (maxConcurrent).", labels=(SERVICE,)
        )
        circuit = GaugeMetricFamily(
            CIRCUIT_STATE, "1 for the breaker's state.", labels=(SERVICE, "state")
        )
        items = GaugeMetricFamily(CATALOG_ITEMS, "Catalog items by kind.", labels=(SERVICE, "kind"))
        held = GaugeMetricFamily(
            PINS_HELD, "Definitions changed since approval.", labels=(SERVICE, "state")
        )
        refused = GaugeMetricFamily(
            NAMES_REFUSED, "Names refused as another service's.", labels=(SERVICE,)
        )
        for service in status.services:
            name = service.namespace
            held.add_metric((name, "held"), len(service.held))
            held.add_metric((name, "warned"), len(service.drifted))
            refused.add_metric((name,), len(service.refused))
            for each in STATES:
                state.add_metric((name, each), 1.0 if service.state == each else 0.0)
            restarts.add_metric((name,), service.restarts)
            uptime.add_metric((name,), service.uptime_seconds or 0.0)
            in_flight.add_metric((name,), service.in_flight)
            queued.add_metric((name,), service.queued)
            slots.add_metric((name,), service.max_concurrent)
            for each in CIRCUITS:
                circuit.add_metric((name, each), 1.0 if service.circuit == each else 0.0)
            for kind in KINDS:
                items.add_metric((name, kind), service.catalog.get(kind, 0))
        yield from (state, restarts, uptime, in_flight, queued, slots, circuit, items)
        yield from (held, refused)
        yield GaugeMetricFamily(CLIENTS, "Clients connected now.", value=status.clients)
        if status.replicas:
            replicas = GaugeMetricFamily(
                REPLICAS, "Replicas alive, by config and version.", labels=("config", "version")
            )
            counts = collections.Counter((r.config, r.version) for r in status.replicas)
            for (config, version), count in sorted(counts.items()):
                replicas.add_metric((config, version), count)
            yield replicas
        if status.cache is not None:
            yield GaugeMetricFamily(
                CACHE_ENTRIES, "Results the cache holds.", value=status.cache["entries"]
            )
            yield GaugeMetricFamily(
                CACHE_BYTES, "Bytes the cache holds.", value=status.cache["bytes"]
            )
        yield GaugeMetricFamily(
            START_TIME, "Unix time the gateway started.", value=status.started_at
        )


class _StatusCollector:
    """Hands the registry the state metrics at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.state_metrics()
