from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "hub.ops"
    label = "hub_ops"

    def ready(self) -> None:
        # Lazy: the worker module needs the apps loaded (it reads settings and the broker).
        from hub.ops import worker

        worker.start_inprocess_worker_if_configured()
