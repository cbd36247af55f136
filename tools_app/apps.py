from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class ToolsAppConfig(AppConfig):
    name = "tools_app"
    verbose_name = "MCP tools"

    def ready(self) -> None:
        # Imported here, once models are loaded: the handlers reach the runtime, which imports them.
        from sessions_app.runtime.methods import methods
        from sessions_app.runtime.stateless import tool_facts

        from . import completion, handlers
        from .registry import registry

        for method, handler in {**handlers.HANDLERS, "completion/complete": completion.complete}.items():
            methods.register(method, handler, effects_stored=handlers.EFFECTS_STORED.get(method, False))
        methods.add_capabilities(registry.capabilities)
        tool_facts.input_schema = registry.tool_input_schema
        tool_facts.required_capabilities = registry.tool_requirements
        # Like admin.py: every installed app may declare tools, resources and prompts in mcp_tools.py.
        autodiscover_modules("mcp_tools")
