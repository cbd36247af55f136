from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "MCP sessions"

    def ready(self) -> None:
        from mcpsite.metrics import register_cluster_collector

        register_cluster_collector()
