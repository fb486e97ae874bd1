from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class SlackConfig(AppConfig):
    name = "hub.integrations.slack"
    label = "hub_slack"
    verbose_name = "Slack"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here: models and services load only once the app registry is ready.
        from hub.domain.authentication.models import Company
        from hub.integrations.slack.models import SlackInstallation
        from hub.integrations.slack.services import slack_installations_forget

        for model in (SlackInstallation, Company):
            for signal in (post_save, post_delete):
                signal.connect(
                    slack_installations_forget,
                    sender=model,
                    dispatch_uid=f"slack_installations_forget:{model.__name__}:{signal}",
                )
