from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "hub.domain.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"
