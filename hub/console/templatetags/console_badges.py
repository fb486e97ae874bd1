"""The unread-notifications badge in the nav of every console page.

Rendered as the ids of the user's unread notifications, not a bare count: the page resumes
the websocket from its cursor, so an event may repeat something the read already saw, and a
set of ids absorbs that where a count would drift.
"""

from __future__ import annotations

from typing import Any

from django import template

from hub.console import selectors
from hub.domain.authentication.models import User

register = template.Library()


@register.simple_tag(takes_context=True)
def console_unread_ids(context: dict[str, Any]) -> list[str]:
    """The signed-in user's unread notification ids: the view's, or one query."""
    if "notification_unread_ids" in context:
        return context["notification_unread_ids"]
    user = context["request"].user
    if not isinstance(user, User):
        return []
    return selectors.notification_unread_ids(user=user)
