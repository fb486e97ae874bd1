from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Dramatiq actors (``hub/workers/actors.py``, found by django_dramatiq) and the scheduler."""

    name = "hub.workers"
    label = "hub_workers"
