"""Plain Django views next to the MCP endpoint: the landing page and /health."""

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from django.shortcuts import render

from . import health as health_checks
from . import operations
from .protocol import STATEFUL_VERSIONS

STARTED = time.time()


async def health(request):
    """JSON health: 200 when every dependency answers, 503 naming the one that does not."""
    database = await sync_to_async(health_checks.database_ok, thread_sensitive=False)()
    body = {
        "status": "ok",
        "storageMode": "redis" if settings.USE_REDIS else "memory",
        "database": "ok" if database else "down",
        "version": settings.MCP_SERVER_VERSION,
        "uptime": round(time.time() - STARTED, 3),
        "node": settings.MCP_NODE_ID,
    }
    healthy = database
    if settings.USE_REDIS:
        redis = await sync_to_async(health_checks.redis_ok, thread_sensitive=False)()
        body["redis"] = "ok" if redis else "down"
        healthy = healthy and redis
    body["status"] = "ok" if healthy else "error"
    return JsonResponse(body, status=200 if healthy else 503)


def metrics(request):
    """Prometheus text format: this process's counters, cluster-wide figures, process metrics."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


def landing(request):
    try:
        figures = operations.live_figures()
    except Exception:  # the page still renders while the database is away
        figures = None
    return render(
        request,
        "landing.html",
        {
            "mcp_url": request.build_absolute_uri("/mcp"),
            "versions": STATEFUL_VERSIONS,
            "server_version": settings.MCP_SERVER_VERSION,
            "storage_mode": "redis" if settings.USE_REDIS else "memory",
            "figures": figures,
        },
    )
