from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from hub.domain.authentication.models import CompanyUser, Role
from hub.domain.authentication.services import company_user_add, company_user_set_role
from tests import factories

PERMISSIONS = ("can_invite_users", "can_manage_deals", "can_view_reports", "can_manage_customers")


def _permissions(membership: CompanyUser) -> dict[str, bool]:
    return {name: getattr(membership, name) for name in PERMISSIONS}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.CEO, (True, True, True, True)),
        (Role.MANAGER, (True, True, True, True)),
        (Role.SALES_MANAGER, (False, True, True, True)),
        (Role.SUPPORT_STAFF, (False, False, False, True)),
    ],
)
def test_each_role_gets_its_default_permissions(acme, role, expected):
    membership = company_user_add(company=acme, user=factories.UserFactory(), role=role)

    membership.refresh_from_db()
    assert membership.role == role
    assert _permissions(membership) == dict(zip(PERMISSIONS, expected, strict=True))


def test_the_same_user_cannot_join_a_company_twice(acme, alice):
    with pytest.raises(ValidationError) as excinfo:
        company_user_add(company=acme, user=alice, role=Role.SUPPORT_STAFF)

    assert "already a member of Acme" in excinfo.value.message_dict["user"][0]
    assert CompanyUser.objects.filter(company=acme, user=alice).count() == 1
    assert CompanyUser.objects.get(company=acme, user=alice).role == Role.CEO


def test_a_user_may_belong_to_two_companies(acme, globex, bob):
    company_user_add(company=globex, user=bob, role=Role.MANAGER)

    assert set(CompanyUser.objects.filter(user=bob).values_list("company_id", flat=True)) == {
        acme.id,
        globex.id,
    }


def test_an_unknown_role_is_refused(acme):
    with pytest.raises(ValidationError) as excinfo:
        company_user_add(company=acme, user=factories.UserFactory(), role="intern")

    assert "role" in excinfo.value.message_dict


def test_company_user_add_records_department_and_inviter(acme, alice):
    membership = company_user_add(
        company=acme,
        user=factories.UserFactory(),
        role=Role.SUPPORT_STAFF,
        department="support",
        invited_by=alice,
    )

    membership.refresh_from_db()
    assert (membership.department, membership.invited_by) == ("support", alice)


def test_set_role_resets_the_permissions_to_the_new_roles_defaults(acme):
    membership = company_user_add(
        company=acme, user=factories.UserFactory(), role=Role.SUPPORT_STAFF
    )
    membership.can_invite_users = True  # a hand-granted extra the new role does not keep
    membership.save()

    company_user_set_role(membership=membership, role=Role.SALES_MANAGER)

    membership.refresh_from_db()
    assert membership.role == Role.SALES_MANAGER
    assert _permissions(membership) == {
        "can_invite_users": False,
        "can_manage_deals": True,
        "can_view_reports": True,
        "can_manage_customers": True,
    }

    company_user_set_role(membership=membership, role=Role.SUPPORT_STAFF)

    membership.refresh_from_db()
    assert _permissions(membership) == {
        "can_invite_users": False,
        "can_manage_deals": False,
        "can_view_reports": False,
        "can_manage_customers": True,
    }


def test_set_role_refuses_an_unknown_role(acme, bob):
    membership = CompanyUser.objects.get(company=acme, user=bob)

    with pytest.raises(ValidationError):
        company_user_set_role(membership=membership, role="owner")

    membership.refresh_from_db()
    assert membership.role == Role.SALES_MANAGER
