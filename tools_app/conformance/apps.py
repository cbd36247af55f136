from django.apps import AppConfig


class ConformanceConfig(AppConfig):
    """The conformance suite's fixtures; installed only with MCP_CONFORMANCE_FIXTURES=true."""

    name = "tools_app.conformance"
    label = "conformance"
    verbose_name = "Conformance fixtures"
