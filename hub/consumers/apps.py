from django.apps import AppConfig


class ConsumersConfig(AppConfig):
    name = "hub.consumers"
    label = "hub_consumers"

    def ready(self) -> None:
        # Imported here, not at module level: the dispatcher reads models, which app loading
        # must have finished registering first.
        from hub.consumers.dispatcher import publish_event_id
        from hub.domain.events.services import event_committed_connect

        event_committed_connect(publish_event_id)
