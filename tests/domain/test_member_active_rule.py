"""The active-member rule (an active membership of an active company) gives one answer wherever
it is checked: each check below runs over every membership of the active/inactive membership x
active/inactive company grid, and each must agree with the rule worked out from the two flags.
"""

from __future__ import annotations

import itertools

import pytest

from hub.domain.authentication.models import CompanyUser, User
from hub.domain.authentication.permissions import company_roles
from hub.domain.authentication.selectors import (
    company_member_is_active,
    member_active_q,
    memberships_active,
)
from hub.domain.calls.outbound import CallPlacementError, _caller_check
from hub.domain.events.selectors import viewer_memberships
from tests import factories

pytestmark = pytest.mark.django_db

GRID = list(itertools.product([True, False], repeat=2))  # (membership active, company active)


@pytest.fixture
def grid() -> list[CompanyUser]:
    """One user's memberships, one per cell of the grid, each in a company of its own."""
    user = factories.UserFactory()
    return [
        factories.CompanyUserFactory(
            user=user,
            company=factories.CompanyFactory(is_active=company_active),
            is_active=membership_active,
        )
        for membership_active, company_active in GRID
    ]


def _rule(membership: CompanyUser) -> bool:
    return membership.is_active and membership.company.is_active


def _checks(membership: CompanyUser) -> dict[str, bool]:
    """What each check says of the membership's user in the membership's company."""
    user, company = membership.user, membership.company
    user = User.objects.get(pk=user.pk)  # fresh: company_roles caches on the instance
    try:
        _caller_check(user=user, company=company)
        may_call = True
    except CallPlacementError:
        may_call = False
    return {
        "memberships_active": memberships_active().filter(pk=membership.pk).exists(),
        "company_member_is_active": company_member_is_active(
            company_id=company.pk, user_id=user.pk
        ),
        "member_active_q from User": User.objects.filter(
            member_active_q("memberships__"), pk=user.pk, memberships__company=company
        ).exists(),
        "viewer_memberships": company.pk in viewer_memberships(user=user)[0].companies,
        "company_roles": company.pk in company_roles(user),
        "call_place's caller check": may_call,
    }


def test_every_check_of_the_rule_agrees_with_it(grid):
    for membership in grid:
        expected = _rule(membership)
        checks = _checks(membership)
        wrong = {name: said for name, said in checks.items() if said != expected}
        assert not wrong, (
            f"membership active={membership.is_active}, company active="
            f"{membership.company.is_active}: the rule says {expected}, these differ: {wrong}"
        )


def test_the_grid_holds_both_answers(grid):
    assert sorted(_rule(m) for m in grid) == [False, False, False, True]


def test_a_user_without_a_membership_is_no_member(grid):
    company = grid[0].company
    outsider = factories.UserFactory()
    assert not company_member_is_active(company_id=company.pk, user_id=outsider.pk)
    assert not memberships_active().filter(user=outsider).exists()
