from django.apps import AppConfig


class EmailsConfig(AppConfig):
    name = "hub.domain.emails"
    label = "emails"
    default_auto_field = "django.db.models.BigAutoField"
