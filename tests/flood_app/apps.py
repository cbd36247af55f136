from django.apps import AppConfig


class FloodAppConfig(AppConfig):
    """A tool that sends as many notifications as asked, past the seed tool's bound (tests only)."""

    name = "tests.flood_app"
    label = "flood_app"
