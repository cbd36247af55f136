"""Plain Django views next to the MCP endpoint: the landing page and /health."""

import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from .protocol import STATEFUL_VERSIONS

STARTED = time.time()


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


async def health(request):
    database_ok = await sync_to_async(_database_ok)()
    body = {
        "status": "ok" if database_ok else "error",
        "storageMode": "memory",
        "database": "ok" if database_ok else "down",
        "version": settings.MCP_SERVER_VERSION,
        "uptime": round(time.time() - STARTED, 3),
    }
    return JsonResponse(body, status=200 if database_ok else 503)


def landing(request):
    return render(
        request,
        "landing.html",
        {
            "mcp_url": request.build_absolute_uri("/mcp"),
            "versions": STATEFUL_VERSIONS,
            "server_version": settings.MCP_SERVER_VERSION,
        },
    )
