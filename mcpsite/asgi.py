"""ASGI entry point: /mcp goes to the MCP consumer, everything else to Django.

Django middleware does not run for consumers, so whatever must guard /mcp
wraps the consumer here as ASGI middleware, configured from settings (the
middleware itself reads none).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpsite.settings")
django_application = get_asgi_application()  # sets Django up before the imports below load models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from sessions_app import metrics  # noqa: E402
from sessions_app.edge.accesslog import AccessLog  # noqa: E402
from sessions_app.edge.cors import Cors  # noqa: E402
from sessions_app.edge.hostorigin import HostOriginGuard  # noqa: E402
from sessions_app.edge.ratelimit import RateLimit  # noqa: E402
from sessions_app.runtime.lifecycle import StartNode  # noqa: E402
from sessions_app.store.cache import cache  # noqa: E402
from sessions_app.transport.consumer import McpConsumer  # noqa: E402


def mcp_endpoint():
    """Outermost first: log and measure, rate limit (refusals count too), Host/Origin, CORS, MCP."""
    app = Cors(McpConsumer.as_asgi(), origins=settings.CORS_ORIGIN)
    app = HostOriginGuard(app, allowed_hosts=settings.ALLOWED_HOSTS, allowed_origins=settings.MCP_ALLOWED_ORIGINS)
    app = RateLimit(
        app,
        limit=settings.RATE_LIMIT_MAX,
        window=settings.RATE_LIMIT_WINDOW,
        count_hits=cache.acount_hits,
        on_refused=metrics.count_rate_limited,
    )
    return AccessLog(app, on_done=metrics.observe_request)


application = StartNode(
    ProtocolTypeRouter(
        {
            "http": URLRouter(
                [
                    re_path(r"^mcp/?$", mcp_endpoint()),
                    re_path(r"", django_application),
                ]
            ),
        }
    )
)
