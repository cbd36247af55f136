from django.apps import AppConfig


class CalculatorConfig(AppConfig):
    name = "tools_app.calculator"
    label = "calculator"
    verbose_name = "Calculator"

    def ready(self) -> None:
        # Imported here, once the models are loaded.
        from sessions_app.metrics import register_collector

        from .metrics import Calculations

        register_collector("mcp_calculations", Calculations())
