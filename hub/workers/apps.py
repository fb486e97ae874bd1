from django.apps import AppConfig


class WorkersConfig(AppConfig):
    """Every Dramatiq actor (one module per area, listed in ``actors.py``) and the scheduler."""

    name = "hub.workers"
    label = "hub_workers"

    def ready(self) -> None:
        # Lazy: an actor is declared on import, which needs django_dramatiq's broker (set up by
        # its own ready(), earlier in INSTALLED_APPS). Importing mail_send connects the send
        # actor to hub.domain.emails.sending, so every process that queues mail (web, worker,
        # a command) enqueues it at once instead of leaving it to the sweep.
        from hub.workers import mail_send  # noqa: F401
