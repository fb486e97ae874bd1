"""Matching a caller's number to the company's lead, deal and customer (one query, any format)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.domain.calls.inbound import call_ensure, call_sid_held
from hub.domain.calls.models import CallDirection
from hub.domain.calls.reports import Leg
from hub.domain.calls.selectors import contact_find
from hub.domain.crm.models import Lead
from tests import factories

pytestmark = pytest.mark.django_db

CALLER = "+14155550100"


def _aged(row, days: int):
    type(row).objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=days))
    return row


def _customer(company, phone: str):
    customer = factories.CustomerFactory(user__phone=phone)
    factories.CustomerCompanyFactory(customer=customer, company=company)
    return customer


def test_any_stored_format_matches_and_the_newest_of_each_kind_wins(acme, alice):
    # The newest rows are created first: newest means created_at, not the highest id.
    newest_lead = _aged(factories.LeadFactory(company=acme, phone="(415) 555-0100"), 1)
    _aged(factories.LeadFactory(company=acme, phone="415-555-0100"), 9)
    newest_deal = _aged(factories.DealFactory(company=acme, contact_phone="4155550100"), 0)
    _aged(factories.DealFactory(company=acme, contact_phone="+1 415 555 0100"), 1)
    _customer(acme, "+1 (415) 555-0100")
    customer = _customer(acme, "415.555.0100")  # customers have no created_at: the newest id

    with CaptureQueriesContext(connection) as queries:
        contact = contact_find(company_id=acme.id, number=CALLER)

    assert len(queries) == 1
    assert (contact.lead.id, contact.deal.id, contact.customer.id) == (
        newest_lead.id,
        newest_deal.id,
        customer.id,
    )


def test_the_same_last_digits_on_another_number_do_not_match(acme, alice):
    factories.LeadFactory(company=acme, phone="+1 212 555 0100")
    factories.DealFactory(company=acme, contact_phone="0100 999")
    _customer(acme, "+44 20 7946 0100")

    contact = contact_find(company_id=acme.id, number=CALLER)

    assert (contact.lead, contact.deal, contact.customer) == (None, None, None)


def test_another_companys_lead_deal_and_customer_are_never_matched(acme, alice, globex, charlie):
    factories.LeadFactory(company=globex, phone=CALLER)
    factories.DealFactory(company=globex, contact_phone=CALLER)
    _customer(globex, CALLER)

    contact = contact_find(company_id=acme.id, number=CALLER)

    assert (contact.lead, contact.deal, contact.customer) == (None, None, None)
    assert contact_find(company_id=globex.id, number=CALLER).lead is not None


def test_a_lead_without_a_matching_deal_brings_its_own_newest_deal(acme, alice):
    lead = factories.LeadFactory(company=acme, phone=CALLER)
    _aged(factories.DealFactory(company=acme, lead=lead), 3)
    newest = factories.DealFactory(company=acme, lead=lead)

    contact = contact_find(company_id=acme.id, number=CALLER)

    assert (contact.lead.id, contact.deal.id) == (lead.id, newest.id)


def test_matched_rows_load_the_rest_of_their_columns_on_demand(acme, alice):
    lead = factories.LeadFactory(company=acme, phone=CALLER, first_name="Nancy")

    contact = contact_find(company_id=acme.id, number=CALLER)

    assert isinstance(contact.lead, Lead) and contact.lead.company_id == acme.id
    assert contact.lead.first_name == "Nancy"  # a deferred column, read when used
    assert Lead.objects.get(pk=lead.pk).first_name == "Nancy"


@pytest.mark.parametrize("number", [None, "", "anonymous", "+1"])
def test_a_withheld_or_malformed_number_matches_nothing(acme, alice, number):
    factories.LeadFactory(company=acme, phone=CALLER)
    contact = contact_find(company_id=acme.id, number=number)
    assert (contact.lead, contact.deal, contact.customer) == (None, None, None)


@pytest.mark.parametrize("left", ["membership deleted", "membership deactivated"])
def test_a_number_whose_owner_left_the_company_still_records_the_call(acme, alice, bob, left):
    number = factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155559000")
    if left == "membership deleted":
        bob.memberships.all().delete()
    else:
        bob.memberships.update(is_active=False)

    call, created = call_ensure(
        call_sid_held(),
        call_sid="CA" + "7" * 32,
        leg=Leg(CallDirection.INBOUND, from_number=CALLER, to_number=number.phone_number),
    )

    assert created and (call.company_id, call.phone_number_id, call.user_id) == (
        acme.id,
        number.id,
        None,
    )
