"""The Django admin over every table: one module per domain app and integration.

Django's admin autodiscovery imports ``<app>.admin`` for each installed app; the domain and
integration apps have none, and ``hub.console`` is installed, so this package is the one that
is found. Importing the modules below registers each ModelAdmin with ``admin.site``, once.
``base`` holds the company scoping they share.
"""

from hub.console.admin import (  # noqa: F401  (imported for their @admin.register side effects)
    authentication,
    calls,
    crm,
    customers,
    emails,
    events,
    issues,
    mail,
    notifications,
    ops,
    slack,
    twilio,
)
