from django.apps import AppConfig


class RegistryAppConfig(AppConfig):
    """A third-party app, as a user would write one, that adds to the registry (tests only)."""

    name = "tests.registry_app"
    label = "registry_app"
