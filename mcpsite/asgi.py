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

application = ProtocolTypeRouter(
    {
        "http": URLRouter(
            [
                # Outermost first: log and measure, check Host/Origin, CORS, rate limit, then MCP.
                re_path(r"^mcp/?$", AccessLog(EdgeGuard(Cors(RateLimit(McpConsumer.as_asgi()))))),
                re_path(r"", django_application),
            ]
        ),
    }
)
