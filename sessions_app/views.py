"""Plain Django views next to the MCP endpoint: /health and /metrics."""

import asyncio
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .store import outages

STARTED = time.time()
# Each probe waits for a lock at most outages.PROBE_TIMEOUT_SECONDS; this bounds a connect that hangs too.
PROBE_DEADLINE_SECONDS = outages.PROBE_TIMEOUT_SECONDS + 3


async def _probe(check) -> bool:
    """A dependency probe in a worker thread, given up on (as "down") after a bounded wait."""
    try:
        return await asyncio.wait_for(sync_to_async(check, thread_sensitive=False)(), PROBE_DEADLINE_SECONDS)
    except TimeoutError:
        return False


async def health(request):
    """JSON health: 200 when every dependency answers (the database: takes writes), 503 naming the one that does not."""
    database = await _probe(outages.database_ok)
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
        redis = await _probe(outages.redis_ok)
        body["redis"] = "ok" if redis else "down"
        healthy = healthy and redis
    body["status"] = "ok" if healthy else "error"
    return JsonResponse(body, status=200 if healthy else 503)


def metrics(request):
    """Prometheus text format: this process's counters, cluster-wide figures, process metrics."""
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
