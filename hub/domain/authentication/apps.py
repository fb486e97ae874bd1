from django.apps import AppConfig


class AuthenticationConfig(AppConfig):
    name = "hub.domain.authentication"
    label = "authentication"
    default_auto_field = "django.db.models.AutoField"
