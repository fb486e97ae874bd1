"""Every actor module, so that a worker process declares every actor before it consumes.

``manage.py rundramatiq`` hands the dramatiq CLI each installed app's ``actors`` module
(``DRAMATIQ_AUTODISCOVER_MODULES`` in config/settings.py), and an actor is declared when its
module is imported. The actors live one module per area beside this one; a new area's module
is added to this import. (The embedded default's in-process worker shares the web process,
where each module is imported by what sends its actor, and the scheduler by dotted path.)
"""

from hub.workers import (  # noqa: F401
    calls,
    mail_rules,
    mail_send,
    mail_sync,
    retention,
    slack,
    slack_alerts,
    slack_crm,
    slack_events,
    slack_leads,
    twilio,
)
