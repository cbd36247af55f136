"""mcp_calculations{operation}: calculations across all nodes, read from the database at scrape time."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily

from .models import Calculation

HELP = "Calculations across all nodes, by operation"


class Calculations:
    def describe(self):
        # Registration calls describe(), not collect(): no database query at start-up.
        yield CounterMetricFamily("mcp_calculations", HELP, labels=["operation"])

    def collect(self):
        try:
            by_operation = list(Calculation.objects.values_list("operation").annotate(n=Count("id")))
        except Exception:  # the database is down: say nothing rather than something false
            return
        calculations = CounterMetricFamily("mcp_calculations", HELP, labels=["operation"])
        for operation, count in by_operation:
            calculations.add_metric([operation], count)
        yield calculations
