"""ASGI entry point: /mcp goes to the MCP consumer, everything else to Django.

Django middleware does not run for consumers, so whatever must guard /mcp
wraps the consumer here as ASGI middleware.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mcpsite.settings")
django_application = get_asgi_application()  # sets Django up before the consumer's imports

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from mcpsite.accesslog import AccessLog  # noqa: E402
from mcpsite.cors import Cors  # noqa: E402
from mcpsite.edge import EdgeGuard  # noqa: E402
from mcpsite.ratelimit import RateLimit  # noqa: E402
from sessions_app.consumer import McpConsumer  # noqa: E402
from sessions_app.node import node  # noqa: E402


class StartNode:
    """Starts this process's heartbeat and purge with its first request of any kind (daphne has no lifespan)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        node.ensure_started()
        return await self.app(scope, receive, send)


application = StartNode(
    ProtocolTypeRouter(
        {
            "http": URLRouter(
                [
                    # Outermost first: log and measure, rate limit (refusals count too), Host/Origin, CORS, MCP.
                    re_path(r"^mcp/?$", AccessLog(RateLimit(EdgeGuard(Cors(McpConsumer.as_asgi()))))),
                    re_path(r"", django_application),
                ]
            ),
        }
    )
)
