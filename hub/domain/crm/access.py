"""Who may see and change a company's deals and leads.

An active member whose membership has ``can_manage_deals`` sees all the company's deals and
leads and may change them; another active member sees only those assigned to them and changes
nothing; anyone else sees nothing. "Active" is the rule of
:func:`hub.domain.authentication.selectors.member_active_q`, and the user's own account must
be active too (as :func:`hub.integrations.slack.services.slack_user_resolve` requires).
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from hub.domain.authentication.models import Company, CompanyUser, User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.crm.models import Deal, Lead

M = TypeVar("M", Deal, Lead)

#: An entry point that has just read the user's membership (``slack_user_resolve`` reads it
#: with the user, in one query) leaves it on the user object for the rest of the request,
#: ``{company_id: CompanyUser}``, so the checks below do not read it again.
_REMEMBERED = "_hub_crm_memberships"


class CrmAccessDenied(PermissionDenied):
    """A change to deals or leads that the user may not make; ``str()`` tells them why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _memberships(*, user: User | None, company: Company) -> QuerySet[CompanyUser]:
    if user is None or getattr(user, "pk", None) is None:
        return CompanyUser.objects.none()
    return memberships_active().filter(company=company, user=user, user__is_active=True)


def crm_membership_remember(*, user: User, membership: CompanyUser) -> None:
    """Keep a membership just read (active, of an active user) for this user object's checks."""
    remembered = getattr(user, _REMEMBERED, None)
    if remembered is None:
        remembered = {}
        setattr(user, _REMEMBERED, remembered)
    remembered[membership.company_id] = membership


def crm_membership(*, user: User | None, company: Company) -> CompanyUser | None:
    """The user's active membership of the company, or None."""
    remembered = getattr(user, _REMEMBERED, None)
    if remembered is not None and company.pk in remembered:
        return remembered[company.pk]
    return _memberships(user=user, company=company).order_by("pk").first()


def crm_can_manage(*, user: User | None, company: Company) -> bool:
    """Whether the user is an active member of the company allowed to manage deals."""
    membership = crm_membership(user=user, company=company)
    return membership is not None and membership.can_manage_deals


def crm_manage_check(*, user: User | None, company: Company) -> None:
    """Raise :class:`CrmAccessDenied` unless the user may change the company's deals and leads."""
    membership = crm_membership(user=user, company=company)
    if membership is None:
        raise CrmAccessDenied(
            f"You are not an active member of {company.company_name}, so you cannot change "
            "its deals or leads."
        )
    if not membership.can_manage_deals:
        raise CrmAccessDenied(
            f"You cannot change deals or leads in {company.company_name}: your membership "
            "does not include managing deals. Ask an admin of your company to give you that "
            "permission."
        )


def _visible(model: type[M], *, user: User | None, company: Company) -> QuerySet[M]:
    # The membership is read first (one look-up on a unique index) so that the queryset
    # returned is a plain filter: EXISTS subqueries in its place cost more to compile, on
    # every query built from it, than the look-up does (these serve Slack's 3-second answers).
    membership = crm_membership(user=user, company=company)
    if membership is None:
        return model._default_manager.none()
    rows = model._default_manager.filter(company_id=company.pk)
    return rows if membership.can_manage_deals else rows.filter(assigned_to_id=membership.user_id)


def deals_visible(*, user: User | None, company: Company) -> QuerySet[Deal]:
    """The company's deals the user may see (all, their own, or none); one query to decide."""
    return _visible(Deal, user=user, company=company)


def leads_visible(*, user: User | None, company: Company) -> QuerySet[Lead]:
    """The company's leads the user may see (all, their own, or none); one query to decide."""
    return _visible(Lead, user=user, company=company)
