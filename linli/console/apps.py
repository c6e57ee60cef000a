from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "linli.console"
    label = "console"
