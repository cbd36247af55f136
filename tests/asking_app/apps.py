from django.apps import AppConfig


class AskingAppConfig(AppConfig):
    name = "tests.asking_app"
    label = "asking_app"
