"""The documents a client discovers the authorization with: Protected Resource Metadata (RFC 9728).

The authorization server's own endpoints (metadata, registration, authorize, token, revoke) are
django-oauth-toolkit's views, routed in `urls`.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from ..wire.bearer import resource_url

MCP_PATH = "/mcp"


def resource_of(request: HttpRequest) -> str:
    """This server's resource identifier: MCP_RESOURCE_URL, or /mcp at the origin the request came to."""
    return settings.MCP_RESOURCE_URL or resource_url(request.scheme, request.get_host(), MCP_PATH)


def issuer_of(request: HttpRequest) -> str:
    """The authorization server: MCP_AUTH_ISSUER, or (built-in server) this origin."""
    return settings.MCP_AUTH_ISSUER or f"{request.scheme}://{request.get_host().lower()}"


@require_GET
def protected_resource_metadata(request: HttpRequest) -> JsonResponse:
    """RFC 9728 section 3.2, served at the well-known URI and at its /mcp path-suffixed form."""
    document = {
        "resource": resource_of(request),
        "authorization_servers": [issuer_of(request)],
        "bearer_methods_supported": ["header"],
        "resource_name": settings.MCP_SERVER_NAME,
    }
    if settings.MCP_AUTH_SCOPES:
        document["scopes_supported"] = list(settings.MCP_AUTH_SCOPES)
    response = JsonResponse(document)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response
