"""company_number_find's raw SQL says whether the number's owner is an active member of the
number's company; it mirrors the active-member rule (company_member_is_active), and must agree
with it on every combination."""

from __future__ import annotations

import pytest

from hub.domain.authentication.models import Company, CompanyUser
from hub.domain.authentication.selectors import company_member_is_active
from hub.domain.calls.selectors import company_number_find
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("company_active", [True, False])
@pytest.mark.parametrize("membership", ["active", "inactive", "none"])
def test_the_raw_sql_and_the_selector_agree(company_active, membership):
    company = factories.CompanyFactory()
    owner = factories.UserFactory()
    if membership != "none":
        factories.CompanyUserFactory(company=company, user=owner, is_active=membership == "active")
    number = factories.PhoneNumberFactory(company=company, user=owner, phone_number="+14155559000")
    CompanyUser.objects.filter(user=owner).exclude(company=company).delete()
    Company.objects.filter(pk=company.pk).update(is_active=company_active)

    found = company_number_find(number.phone_number)

    assert found is not None and found.id == number.id
    selector = company_member_is_active(company_id=company.id, user_id=owner.id)
    assert found.owner_is_member == selector
    assert selector == (membership == "active" and company_active)
