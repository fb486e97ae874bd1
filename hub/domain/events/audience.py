"""Who may see an event: decided when it is routed and again when it is replayed."""

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


def viewer_may_see(
    viewer: Viewer, *, audience: str, company_id: int | None, user_id: int | None
) -> bool:
    if audience == Audience.USER:
        return user_id == viewer.user_id
    if viewer.is_customer or company_id not in viewer.companies:
        return False
    if audience == Audience.COMPANY:
        return True
    if audience == Audience.DEAL_MANAGERS:
        return viewer.companies[company_id] or user_id == viewer.user_id
    return False


def viewer_events_q(viewer: Viewer) -> Q:
    """The same rule as :func:`viewer_may_see`, as a filter on hub_event."""
    q = Q(audience=Audience.USER, user_id=viewer.user_id)
    if viewer.is_customer or not viewer.companies:
        return q
    member_of = list(viewer.companies)
    managing = [cid for cid, manages in viewer.companies.items() if manages]
    q |= Q(audience=Audience.COMPANY, company_id__in=member_of)
    q |= Q(audience=Audience.DEAL_MANAGERS, company_id__in=managing)
    q |= Q(audience=Audience.DEAL_MANAGERS, company_id__in=member_of, user_id=viewer.user_id)
    return q
