"""Prometheus metrics: this process's counters, and the cluster-wide session gauge read at scrape time.

Above the models and below the stores: storage, runtime and transport count here; the
edge middleware reports through callbacks that mcpsite/asgi.py wires to it. Other apps add collectors
(`register_collector`), as the calculator does for its calculations.
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

from .models import McpSession

logger = logging.getLogger(__name__)

REQUESTS = Counter("mcp_requests", "Requests to /mcp", ["method", "status"])
REQUEST_SECONDS = Histogram(
    "mcp_request_duration_seconds",
    "Time from request to the end of its response (a stream's whole life)",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TOOL_CALLS = Counter(
    "mcp_tool_calls", "tools/call by tool and outcome (ok, error, invalid, unknown)", ["tool", "outcome"]
)
SSE_STREAMS_OPEN = Gauge("mcp_sse_streams_open", "SSE responses this process holds open")
EVENTS_STORED = Counter("mcp_events_stored", "Stream events stored by this process")
RATE_LIMITED = Counter("mcp_rate_limited", "Requests refused with 429", ["scope"])


def observe_request(method: str, status: int, seconds: float) -> None:
    """The access log's report of one finished /mcp exchange."""
    REQUESTS.labels(method=method, status=str(status or 499)).inc()
    REQUEST_SECONDS.labels(method=method).observe(seconds)


def count_rate_limited(scope: str) -> None:
    RATE_LIMITED.labels(scope=scope).inc()


class ActiveSessions:
    """mcp_active_sessions, from the database: every node reports the whole cluster's figure."""

    def describe(self):
        # Registration calls describe(), not collect(): no database query at start-up.
        yield GaugeMetricFamily("mcp_active_sessions", "Live sessions across all nodes")

    def collect(self):
        try:
            active = McpSession.objects.live().count()
        except Exception:  # the database is down: say nothing rather than something false
            return
        sessions = GaugeMetricFamily("mcp_active_sessions", "Live sessions across all nodes")
        sessions.add_metric([], active)
        yield sessions


_registered: set[str] = set()


def register_collector(name: str, collector) -> None:
    """Register a scrape-time collector once per process (AppConfig.ready() may run again in tests)."""
    if name not in _registered:
        _registered.add(name)
        REGISTRY.register(collector)


# Stateless (2026-07-28) requests by method and by the client's self-declared name. Both label sets
# are bounded: an unknown method is "other"; the first MAX_CLIENT_LABELS distinct names keep their
# own label (64 characters at most), later ones count as "other", no name as "-".
MODERN_REQUESTS = Counter(
    "mcp_modern_requests", "Stateless (2026-07-28) requests by method and client", ["method", "client"]
)
MAX_CLIENT_LABELS = 50
_client_labels: set[str] = set()


def count_modern_request(method: str, client_name: str) -> None:
    client = client_name[:64] or "-"
    if client not in _client_labels:
        if len(_client_labels) >= MAX_CLIENT_LABELS:
            client = "other"
        else:
            _client_labels.add(client)
    MODERN_REQUESTS.labels(method=method, client=client).inc()
    _modern_tally[(method, client)] = _modern_tally.get((method, client), 0) + 1


_modern_tally: dict[tuple[str, str], int] = {}


def modern_request_counts() -> dict[str, dict[str, int]]:
    """This process's stateless requests since it started, by method and by client (the heartbeat stores them
    for the admin; the labels are the bounded ones above)."""
    by_method: dict[str, int] = {}
    by_client: dict[str, int] = {}
    for (method, client), count in _modern_tally.items():
        by_method[method] = by_method.get(method, 0) + count
        by_client[client] = by_client.get(client, 0) + count
    return {"method": by_method, "client": by_client}
