"""The admin site, with live figures on its index page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class McpAdminSite(admin.AdminSite):
    site_header = "mcpsite"
    site_title = "mcpsite admin"
    index_title = "Sessions, streams and calculations"

    def index(self, request, extra_context=None):
        from sessions_app.operations import live_figures

        try:
            figures = live_figures()
        except Exception:  # a database error mid-page: show the index without figures
            figures = None
        return super().index(request, {**(extra_context or {}), "live_figures": figures})


class McpAdminConfig(AdminConfig):
    default_site = "mcpsite.admin.McpAdminSite"
