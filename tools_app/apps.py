from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ToolsAppConfig(AppConfig):
    name = "tools_app"
    verbose_name = "MCP tools"

    def ready(self) -> None:
        # Like admin.py: every installed app may declare tools in mcp_tools.py.
        autodiscover_modules("mcp_tools")
