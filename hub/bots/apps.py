from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "hub.bots"
    label = "hub_bots"
    verbose_name = "Slack bot"
