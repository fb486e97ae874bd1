"""Reads on companies and their team members."""

from __future__ import annotations

from hub.domain.authentication.models import CompanyUser


def company_member_is_active(*, company_id: int, user_id: int) -> bool:
    """Whether the user is an active member of the company (a deactivated one is a former one)."""
    return CompanyUser.objects.filter(
        company_id=company_id, user_id=user_id, is_active=True
    ).exists()
