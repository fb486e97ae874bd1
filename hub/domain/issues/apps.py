from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "hub.domain.issues"
    label = "issues"
    default_auto_field = "django.db.models.BigAutoField"
