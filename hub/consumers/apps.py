from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "hub.consumers"
    label = "hub_consumers"
