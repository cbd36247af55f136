from django.apps import AppConfig


class ModernAppConfig(AppConfig):
    name = "tests.modern_app"
    label = "modern_app"
