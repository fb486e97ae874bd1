from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "hub.ops"
    label = "hub_ops"

    def ready(self) -> None:
        from hub.ops import worker

        worker.start_inprocess_worker_if_configured()
