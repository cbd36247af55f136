"""The admin site, with live figures on its index page."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class McpAdminSite(admin.AdminSite):
    site_header = "mcpsite"
    site_title = "mcpsite admin"
    index_title = "Sessions, streams and calculations"

    def index(self, request, extra_context=None):
        # Imported on use: this module is loaded as an app config, before models can be.
        from sessions_app.store.operator import live_figures

        try:
            figures = live_figures()
        except Exception:  # a database error mid-page: show the index without figures
            figures = None
        return super().index(request, {**(extra_context or {}), "live_figures": figures})


class McpAdminConfig(AdminConfig):
    default_site = "mcpsite.admin.McpAdminSite"
