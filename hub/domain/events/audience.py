"""Who may see an event: one rule, :func:`viewer_events_q`, decided again on every path.

The rule is written once, as a filter on hub_event: replay on resume and the console's event
log apply it to the log. Live routing cannot query per event, so
``hub.consumers.dispatcher.Dispatcher.recipients`` mirrors it in memory over the connections it
has indexed by user and company; ``tests/events/test_audience_rule.py`` checks, for every
viewer and event of a small universe, that the two select the same events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from hub.domain.events.models import Audience


@dataclass(frozen=True)
class Viewer:
    """A signed-in person as the event spine sees them."""

    user_id: int
    is_customer: bool
    # company id → may manage deals there (active memberships of company accounts only).
    companies: dict[int, bool] = field(default_factory=dict)
    # A superuser (never a customer account): sees every company's events as one who manages
    # deals there would, member or not, so the console can show every company at a glance.
    every_company: bool = False


def viewer_events_q(viewer: Viewer) -> Q:
    """The events ``viewer`` may see, as a filter on hub_event: the audience rule itself.

    A ``user`` event reaches its user only, whatever its company. A customer account sees
    nothing else. A superuser (``every_company``) sees every ``company`` and ``deal_managers``
    event, whatever the company. A ``company`` event reaches the members of its company (``viewer.companies``
    holds the viewer's active memberships); a ``deal_managers`` event reaches the members there
    who may manage deals, and the event's user if they are a member. Live routing
    (``Dispatcher.recipients``) mirrors this rule in memory: change both together.
    """
    q = Q(audience=Audience.USER, user_id=viewer.user_id)
    if viewer.is_customer:
        return q
    if viewer.every_company:
        return q | Q(audience__in=[Audience.COMPANY, Audience.DEAL_MANAGERS])
    if not viewer.companies:
        return q
    member_of = list(viewer.companies)
    managing = [cid for cid, manages in viewer.companies.items() if manages]
    q |= Q(audience=Audience.COMPANY, company_id__in=member_of)
    q |= Q(audience=Audience.DEAL_MANAGERS, company_id__in=managing)
    q |= Q(audience=Audience.DEAL_MANAGERS, company_id__in=member_of, user_id=viewer.user_id)
    return q
