"""Routes of MCP authorization, by MCP_AUTH: none (no routes), oauth (the built-in server), jwt or introspection.

Protected Resource Metadata is published in every mode but none. With the built-in server:
RFC 8414 metadata at the root, and under /o/ django-oauth-toolkit's authorize, token, revoke and
registration (RFC 7591) endpoints; /accounts/login/ is Django's login page.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from .views import protected_resource_metadata


def _server() -> list:
    """The built-in server's endpoints, in django-oauth-toolkit's namespace (its views reverse these names)."""
    # Imported here: oauth2_provider is an installed app (its models load) only with MCP_AUTH=oauth.
    from oauth2_provider import views as oauth_views

    return [
        path(
            ".well-known/oauth-authorization-server",
            oauth_views.OAuthServerMetadataView.as_view(),
            name="oauth-server-metadata",
        ),
        path("o/authorize/", oauth_views.AuthorizationView.as_view(), name="authorize"),
        path("o/token/", oauth_views.TokenView.as_view(), name="token"),
        path("o/revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
        path("o/register/", oauth_views.DynamicClientRegistrationView.as_view(), name="dcr-register"),
        path(
            "o/register/<str:client_id>/",
            oauth_views.DynamicClientRegistrationManagementView.as_view(),
            name="dcr-register-management",
        ),
    ]


def urlpatterns_for(mode: str) -> list:
    if mode == "none":
        return []
    patterns = [re_path(r"^\.well-known/oauth-protected-resource(?:/mcp)?/?$", protected_resource_metadata)]
    if mode == "oauth":
        patterns += [
            path("", include((_server(), "oauth2_provider"))),
            path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
            path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
        ]
    return patterns


urlpatterns = urlpatterns_for(settings.MCP_AUTH)
