from django.apps import AppConfig


class TwilioConfig(AppConfig):
    name = "hub.integrations.twilio"
    label = "hub_twilio"
    verbose_name = "Twilio webhooks"
    default_auto_field = "django.db.models.BigAutoField"
