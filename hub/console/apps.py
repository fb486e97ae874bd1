from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "hub.console"
    label = "hub_console"
