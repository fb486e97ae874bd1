from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Every Dramatiq actor (one module per area, listed in ``actors.py``) and the scheduler."""

    name = "hub.workers"
    label = "hub_workers"
