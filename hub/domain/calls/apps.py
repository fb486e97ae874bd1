from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "hub.domain.calls"
    label = "calls"
    default_auto_field = "django.db.models.BigAutoField"
