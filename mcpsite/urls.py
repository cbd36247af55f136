from django.contrib import admin
from django.urls import include, path

from mcpsite.views import landing
from sessions_app.views import health, metrics

urlpatterns = [
    path("", landing, name="landing"),
    path("health", health, name="health"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    # MCP authorization (MCP_AUTH): metadata, and the built-in authorization server's endpoints.
    path("", include("sessions_app.auth.urls")),
]
