"""Who may see and change deals and leads (hub.domain.crm.access), and notes on them."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from hub.domain.authentication.models import CompanyUser
from hub.domain.authentication.services import company_user_add
from hub.domain.crm.access import (
    CrmAccessDenied,
    crm_can_manage,
    crm_manage_check,
    crm_membership,
    deals_visible,
    leads_visible,
)
from hub.domain.crm.models import Activity, ActivityType
from hub.domain.crm.services import deal_add_note, lead_add_note
from tests import factories


@pytest.fixture
def sam(acme):
    """A sales manager added as the product adds one: the role's default permissions."""
    user = factories.UserFactory(first_name="Sam", last_name="Seller")
    company_user_add(company=acme, user=user, role="sales_manager")
    return user


@pytest.fixture
def dave(acme):
    """Acme support staff: an active member without can_manage_deals."""
    user = factories.UserFactory(first_name="Dave", last_name="Desk")
    company_user_add(company=acme, user=user, role="support_staff")
    return user


@pytest.fixture
def records(acme, globex, alice, dave, charlie):
    """Two Acme deals and leads (one of each assigned to dave) and one of each at Globex."""
    return {
        "acme_deal": factories.DealFactory(company=acme, title="Anvils"),
        "dave_deal": factories.DealFactory(company=acme, title="Rockets", assigned_to=dave),
        "globex_deal": factories.DealFactory(company=globex, title="Hammocks"),
        "acme_lead": factories.LeadFactory(company=acme),
        "dave_lead": factories.LeadFactory(company=acme, assigned_to=dave),
        "globex_lead": factories.LeadFactory(company=globex),
    }


def _titles(queryset) -> set[str]:
    return {deal.title for deal in queryset}


# -- the permission rule -----------------------------------------------------------------------


def test_the_ceo_and_a_sales_manager_may_manage_deals(acme, alice, bob, sam):
    for user in (alice, bob, sam):
        assert crm_can_manage(user=user, company=acme)
        crm_manage_check(user=user, company=acme)  # does not raise
    assert crm_membership(user=sam, company=acme).role == "sales_manager"


def test_a_member_without_can_manage_deals_is_refused_with_a_sentence(acme, dave):
    assert crm_membership(user=dave, company=acme) is not None
    assert not crm_can_manage(user=dave, company=acme)

    with pytest.raises(CrmAccessDenied) as excinfo:
        crm_manage_check(user=dave, company=acme)

    assert isinstance(excinfo.value, PermissionDenied)
    assert "cannot change deals or leads in Acme" in str(excinfo.value)


def test_an_outsider_is_no_member_and_may_not_manage(acme, charlie):
    assert crm_membership(user=charlie, company=acme) is None
    assert not crm_can_manage(user=charlie, company=acme)

    with pytest.raises(CrmAccessDenied, match="not an active member of Acme"):
        crm_manage_check(user=charlie, company=acme)


def test_a_manager_who_left_or_whose_account_or_company_is_off_may_not_manage(acme, alice, bob):
    CompanyUser.objects.filter(user=bob).update(is_active=False)
    assert not crm_can_manage(user=bob, company=acme)
    assert crm_can_manage(user=alice, company=acme)

    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert not crm_can_manage(user=alice, company=acme)

    CompanyUser.objects.filter(user=bob).update(is_active=True)
    acme.is_active = False
    acme.save(update_fields=["is_active"])
    assert not crm_can_manage(user=bob, company=acme)
    with pytest.raises(CrmAccessDenied):
        crm_manage_check(user=bob, company=acme)


def test_no_user_may_do_nothing(acme, records):
    assert crm_membership(user=None, company=acme) is None
    assert not crm_can_manage(user=None, company=acme)
    assert not deals_visible(user=None, company=acme).exists()


# -- what each one sees ------------------------------------------------------------------------


def test_managers_see_every_deal_and_lead_of_their_company_only(acme, alice, bob, records):
    for user in (alice, bob):
        assert _titles(deals_visible(user=user, company=acme)) == {"Anvils", "Rockets"}
        assert set(leads_visible(user=user, company=acme)) == {
            records["acme_lead"],
            records["dave_lead"],
        }


def test_a_member_without_can_manage_deals_sees_only_what_is_assigned_to_them(acme, dave, records):
    assert list(deals_visible(user=dave, company=acme)) == [records["dave_deal"]]
    assert list(leads_visible(user=dave, company=acme)) == [records["dave_lead"]]


def test_an_outsider_sees_nothing_of_acme_but_their_own_company(acme, globex, charlie, records):
    assert not deals_visible(user=charlie, company=acme).exists()
    assert not leads_visible(user=charlie, company=acme).exists()
    assert list(deals_visible(user=charlie, company=globex)) == [records["globex_deal"]]
    assert list(leads_visible(user=charlie, company=globex)) == [records["globex_lead"]]


def test_an_outsider_sees_nothing_even_of_a_deal_assigned_to_them(acme, charlie):
    # A stray assignment (written around the services) must not open a window on Acme.
    factories.DealFactory(company=acme, title="Stray", assigned_to=charlie)

    assert not deals_visible(user=charlie, company=acme).exists()


def test_a_former_member_sees_not_even_their_own_deals(acme, dave, records):
    CompanyUser.objects.filter(user=dave).update(is_active=False)

    assert not deals_visible(user=dave, company=acme).exists()
    assert not leads_visible(user=dave, company=acme).exists()


def test_visibility_is_decided_in_one_query_and_read_in_one_more(
    acme, alice, dave, records, django_assert_num_queries
):
    for user, count in ((alice, 2), (dave, 1)):
        with django_assert_num_queries(1):
            deals = deals_visible(user=user, company=acme)
        with django_assert_num_queries(1):
            assert len(list(deals)) == count


# -- notes -------------------------------------------------------------------------------------


def test_a_note_on_a_deal_is_a_note_activity_with_its_first_line_as_subject(acme, bob, records):
    deal = records["acme_deal"]
    first = "Called the buyer: " + "x" * 100
    note = deal_add_note(deal=deal, by=bob, text=f"  {first}\nThey want a discount.\n")

    note.refresh_from_db()
    assert (note.company, note.deal, note.lead, note.user) == (acme, deal, None, bob)
    assert note.activity_type == ActivityType.NOTE
    assert note.subject == first[:80]
    assert note.description == f"{first}\nThey want a discount."


def test_a_note_on_a_lead(acme, alice, records):
    lead = records["dave_lead"]
    note = lead_add_note(lead=lead, by=alice, text="Met at the fair")

    note.refresh_from_db()
    assert (note.company, note.lead, note.deal) == (acme, lead, None)
    assert (note.subject, note.description) == ("Met at the fair", "Met at the fair")


@pytest.mark.parametrize("text", ["", "   \n\t ", "\x00", "x" * 10_001])
def test_an_empty_or_too_long_note_is_refused(bob, records, text):
    with pytest.raises(ValidationError) as excinfo:
        deal_add_note(deal=records["acme_deal"], by=bob, text=text)

    assert "text" in excinfo.value.message_dict
    assert not Activity.objects.exists()


def test_a_note_of_ten_thousand_characters_and_a_nul_byte_is_kept(bob, records):
    text = "a\x00b" + "c" * 9_998

    note = deal_add_note(deal=records["acme_deal"], by=bob, text=text)

    note.refresh_from_db()
    assert note.description == "ab" + "c" * 9_998
    assert note.subject == ("ab" + "c" * 9_998)[:80]


def test_an_outsider_cannot_note_another_companys_deal(charlie, records):
    with pytest.raises(ValidationError) as excinfo:
        deal_add_note(deal=records["acme_deal"], by=charlie, text="Mine now")
    with pytest.raises(ValidationError):
        lead_add_note(lead=records["acme_lead"], by=charlie, text="Mine now")

    assert "by" in excinfo.value.message_dict
    assert not Activity.objects.exists()
