from django.apps import AppConfig


class SlackConfig(AppConfig):
    name = "hub.integrations.slack"
    label = "hub_slack"
    verbose_name = "Slack"
    default_auto_field = "django.db.models.BigAutoField"
