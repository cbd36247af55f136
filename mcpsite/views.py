"""The landing page."""

from django.conf import settings
from django.shortcuts import render

from sessions_app.store.operator import live_figures
from sessions_app.wire.versions import STATEFUL_VERSIONS


def landing(request):
    try:
        figures = live_figures()
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
