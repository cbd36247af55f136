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
from sessions_app.auth.verifiers import IntrospectionVerifier, JwtVerifier, OAuthVerifier  # noqa: E402
from sessions_app.edge.accesslog import AccessLog  # noqa: E402
from sessions_app.edge.bearer import BearerAuth  # noqa: E402
from sessions_app.edge.cors import Cors  # noqa: E402
from sessions_app.edge.hostorigin import HostOriginGuard  # noqa: E402
from sessions_app.edge.ratelimit import RateLimit  # noqa: E402
from sessions_app.runtime.lifecycle import StartNode  # noqa: E402
from sessions_app.store.cache import cache  # noqa: E402
from sessions_app.transport.consumer import McpConsumer  # noqa: E402


def token_verifier():
    """The bearer token check MCP_AUTH asks for; None when /mcp is open (MCP_AUTH=none)."""
    if settings.MCP_AUTH == "oauth":
        return OAuthVerifier()
    if settings.MCP_AUTH == "jwt":
        return JwtVerifier(
            jwks_url=settings.MCP_AUTH_JWKS_URL,
            issuer=settings.MCP_AUTH_ISSUER,
            audience=settings.MCP_AUTH_AUDIENCE,
            algorithms=settings.MCP_AUTH_JWT_ALGORITHMS,
            username_claim=settings.MCP_AUTH_USERNAME_CLAIM,
        )
    if settings.MCP_AUTH == "introspection":
        return IntrospectionVerifier(
            url=settings.MCP_AUTH_INTROSPECTION_URL,
            client_id=settings.MCP_AUTH_CLIENT_ID,
            client_secret=settings.MCP_AUTH_CLIENT_SECRET,
            issuer=settings.MCP_AUTH_ISSUER,
            audience=settings.MCP_AUTH_AUDIENCE,
            username_claim=settings.MCP_AUTH_USERNAME_CLAIM,
        )
    return None


def protected(app, verifier):
    """`app` behind the bearer check (inside CORS, so preflights pass and refusals carry CORS headers)."""
    if verifier is None:
        return app
    return BearerAuth(
        app, verifier=verifier, resource=settings.MCP_RESOURCE_URL or None, required_scopes=settings.MCP_AUTH_SCOPES
    )


def mcp_endpoint(verifier=None):
    """Outermost first: log and measure, rate limit (refusals count too), Host/Origin, CORS, bearer token, MCP."""
    app = Cors(protected(McpConsumer.as_asgi(), verifier), origins=settings.CORS_ORIGIN)
    app = HostOriginGuard(app, allowed_hosts=settings.ALLOWED_HOSTS, allowed_origins=settings.MCP_ALLOWED_ORIGINS)
    app = RateLimit(
        app,
        limit=settings.RATE_LIMIT_MAX,
        window=settings.RATE_LIMIT_WINDOW,
        count_hits=cache.acount_hits,
        on_refused=metrics.count_rate_limited,
    )
    return AccessLog(app, on_done=metrics.observe_request)


verifier = token_verifier()
application = StartNode(
    ProtocolTypeRouter(
        {
            "http": URLRouter(
                [
                    re_path(r"^mcp/?$", mcp_endpoint(verifier)),
                    *(
                        [re_path(r"^metrics$", protected(django_application, verifier))]
                        * settings.MCP_AUTH_PROTECT_METRICS
                    ),
                    re_path(r"", django_application),
                ]
            ),
        }
    )
)
