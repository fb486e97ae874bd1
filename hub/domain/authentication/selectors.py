"""Reads on companies and their team members.

The active-member rule lives here: a user is an active member of a company when their
``CompanyUser`` row is active and so is the company. A deactivated membership is a former
member; a deactivated company has no active members. Every check of it goes through
:func:`member_active_q` (the raw SQL that cannot, says that it mirrors it, and
``tests/domain/test_member_active_rule.py`` checks the copies agree).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from hub.domain.authentication.models import CompanyUser


def member_active_q(prefix: str = "") -> Q:
    """The active-member rule as a filter on ``CompanyUser``, or on a model reaching it.

    ``prefix`` is the lookup path to the membership, with its trailing ``__``: ``""`` on
    ``CompanyUser`` itself, ``"memberships__"`` on ``User``.
    """
    return Q(**{f"{prefix}is_active": True, f"{prefix}company__is_active": True})


def memberships_active() -> QuerySet[CompanyUser]:
    """Every membership that makes its user an active member of its company."""
    return CompanyUser.objects.filter(member_active_q())


def company_member_is_active(*, company_id: int, user_id: int) -> bool:
    """Whether the user is an active member of the company (a deactivated one is a former one)."""
    return memberships_active().filter(company_id=company_id, user_id=user_id).exists()
