"""Prometheus metrics: per-process counters, and cluster-wide figures read at scrape time.

Active sessions and calculations come from the database when /metrics is
scraped, so every node reports the truth for the whole cluster, not its share.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.conf import settings
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

REQUESTS = Counter("mcp_requests", "Requests to /mcp", ["method", "status"])
REQUEST_SECONDS = Histogram(
    "mcp_request_duration_seconds",
    "Time from request to the end of its response (a stream's whole life)",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TOOL_CALLS = Counter("mcp_tool_calls", "tools/call by tool and outcome (ok, error, invalid, unknown)", ["tool", "outcome"])
SSE_STREAMS_OPEN = Gauge("mcp_sse_streams_open", "SSE responses this process holds open")
EVENTS_STORED = Counter("mcp_events_stored", "Stream events stored by this process")
RATE_LIMITED = Counter("mcp_rate_limited", "Requests refused with 429", ["scope"])


class ClusterCollector:
    """mcp_active_sessions and mcp_calculations_total{operation}, from the database."""

    def describe(self):
        # Registration calls describe(), not collect(): no database query at start-up.
        yield GaugeMetricFamily("mcp_active_sessions", "Live sessions across all nodes")
        yield CounterMetricFamily("mcp_calculations", "Calculations across all nodes, by operation", labels=["operation"])

    def collect(self):
        from django.db.models import Count

        from sessions_app.models import McpSession
        from tools_app.models import Calculation

        cutoff = datetime.now(timezone.utc) - timedelta(seconds=settings.MCP_SESSION_TTL)
        try:
            active = McpSession.objects.filter(terminated_at__isnull=True, last_activity_at__gte=cutoff).count()
            by_operation = list(Calculation.objects.values_list("operation").annotate(n=Count("id")))
        except Exception:  # the database is down: say nothing rather than something false
            return
        sessions = GaugeMetricFamily("mcp_active_sessions", "Live sessions across all nodes")
        sessions.add_metric([], active)
        yield sessions
        calculations = CounterMetricFamily(
            "mcp_calculations", "Calculations across all nodes, by operation", labels=["operation"]
        )
        for operation, count in by_operation:
            calculations.add_metric([operation], count)
        yield calculations


def register_cluster_collector() -> None:
    """Called once, from SessionsAppConfig.ready()."""
    REGISTRY.register(ClusterCollector())
