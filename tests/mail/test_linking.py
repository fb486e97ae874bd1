"""CRM linking of threads: lead, deal contact and customer of the same company, never across."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.domain.crm.models import Deal, DealStatus
from hub.domain.emails.linking import thread_crm_link
from hub.domain.emails.models import EmailThread
from hub.domain.emails.services import email_thread_create
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(acme, alice):
    return factories.EmailAccountFactory(company=acme, user=alice, email="alice@acme.test")


def thread_with(account, *participants: str, **links) -> EmailThread:
    return email_thread_create(
        account=account, subject="Quote", participants=["alice@acme.test", *participants], **links
    )


def stored(thread: EmailThread) -> EmailThread:
    return EmailThread.objects.get(pk=thread.pk)


def customer_of(company, email: str, **fields):
    user = factories.UserFactory(email=email, account_type="customer")
    customer = factories.CustomerFactory(user=user)
    factories.CustomerCompanyFactory(customer=customer, company=company, **fields)
    return customer


def test_a_lead_with_a_participants_address_is_linked_whatever_the_case(account, acme):
    lead = factories.LeadFactory(company=acme, email="Ann.Lee@Prospect.TEST")
    thread = thread_with(account, "ann.lee@prospect.test")

    assert thread_crm_link(thread) is True
    assert thread.lead == lead
    assert stored(thread).lead_id == lead.id
    assert stored(thread).deal_id is None and stored(thread).customer_id is None
    # Linked once: running again changes nothing.
    assert thread_crm_link(stored(thread)) is False


def test_participants_in_mixed_case_still_match(account, acme):
    lead = factories.LeadFactory(company=acme, email="ann@prospect.test")
    thread = thread_with(account, "ANN@Prospect.Test")
    assert thread_crm_link(thread) is True
    assert stored(thread).lead_id == lead.id


def test_the_newest_open_deal_of_the_contact_is_preferred(account, acme):
    now = timezone.now()
    won_newest = factories.DealFactory(
        company=acme, contact_email="pat@client.test", status=DealStatus.WON
    )
    open_old = factories.DealFactory(company=acme, contact_email="Pat@Client.test")
    open_new = factories.DealFactory(company=acme, contact_email="pat@client.test")
    Deal.objects.filter(pk=open_old.pk).update(created_at=now - timedelta(days=30))
    Deal.objects.filter(pk=open_new.pk).update(created_at=now - timedelta(days=2))
    Deal.objects.filter(pk=won_newest.pk).update(created_at=now)
    thread = thread_with(account, "pat@client.test")

    assert thread_crm_link(thread) is True
    assert stored(thread).deal_id == open_new.id


def test_a_closed_deal_is_linked_when_there_is_no_open_one(account, acme):
    lost = factories.DealFactory(
        company=acme, contact_email="pat@client.test", status=DealStatus.LOST
    )
    thread = thread_with(account, "pat@client.test")
    assert thread_crm_link(thread) is True
    assert stored(thread).deal_id == lost.id


def test_a_deal_converted_from_the_participants_lead_is_linked(account, acme):
    lead = factories.LeadFactory(company=acme, email="ann@prospect.test")
    deal = factories.DealFactory(company=acme, lead=lead, contact_email="someone@else.test")
    thread = thread_with(account, "ann@prospect.test")
    assert thread_crm_link(thread) is True
    assert (stored(thread).lead_id, stored(thread).deal_id) == (lead.id, deal.id)


def test_a_customer_of_the_company_is_linked(account, acme):
    customer = customer_of(acme, "carol@customer.test")
    thread = thread_with(account, "Carol@Customer.test", "someone@unknown.test")
    assert thread_crm_link(thread) is True
    assert stored(thread).customer_id == customer.id


def test_lead_deal_and_customer_are_linked_together(account, acme):
    lead = factories.LeadFactory(company=acme, email="ann@prospect.test")
    deal = factories.DealFactory(company=acme, contact_email="pat@client.test")
    customer = customer_of(acme, "carol@customer.test")
    thread = thread_with(account, "ann@prospect.test", "pat@client.test", "carol@customer.test")
    assert thread_crm_link(thread) is True
    row = stored(thread)
    assert (row.lead_id, row.deal_id, row.customer_id) == (lead.id, deal.id, customer.id)


def test_records_of_another_company_are_never_linked(account, globex):
    factories.LeadFactory(company=globex, email="ann@prospect.test")
    factories.DealFactory(company=globex, contact_email="pat@client.test")
    customer_of(globex, "carol@customer.test")
    thread = thread_with(account, "ann@prospect.test", "pat@client.test", "carol@customer.test")

    assert thread_crm_link(thread) is False
    row = stored(thread)
    assert (row.lead_id, row.deal_id, row.customer_id) == (None, None, None)


def test_only_the_threads_own_company_is_searched_when_both_have_the_address(account, acme, globex):
    factories.LeadFactory(company=globex, email="ann@prospect.test")
    ours = factories.LeadFactory(company=acme, email="ann@prospect.test")
    thread = thread_with(account, "ann@prospect.test")
    assert thread_crm_link(thread) is True
    assert stored(thread).lead_id == ours.id


def test_the_accounts_own_address_links_nothing(account, acme):
    factories.LeadFactory(company=acme, email="alice@acme.test")
    thread = thread_with(account)  # only the account's own address
    assert thread_crm_link(thread) is False
    assert stored(thread).lead_id is None


def test_a_link_a_person_made_is_kept(account, acme):
    chosen = factories.LeadFactory(company=acme, email="chosen@prospect.test")
    factories.LeadFactory(company=acme, email="ann@prospect.test")
    deal = factories.DealFactory(company=acme, contact_email="ann@prospect.test")
    thread = thread_with(account, "ann@prospect.test", lead=chosen)

    assert thread_crm_link(thread) is True  # the empty deal link is filled
    row = stored(thread)
    assert (row.lead_id, row.deal_id) == (chosen.id, deal.id)


def test_a_link_made_meanwhile_is_not_overwritten(account, acme):
    factories.LeadFactory(company=acme, email="ann@prospect.test")
    chosen = factories.LeadFactory(company=acme, email="chosen@prospect.test")
    thread = thread_with(account, "ann@prospect.test")
    # A person links the thread after the sync read it: the sync's copy still says "no lead".
    EmailThread.objects.filter(pk=thread.pk).update(lead=chosen)

    assert thread_crm_link(thread) is False
    assert stored(thread).lead_id == chosen.id
    assert thread.lead_id == chosen.id


def test_a_thread_with_every_link_set_is_left_alone(account, acme, django_assert_num_queries):
    lead = factories.LeadFactory(company=acme, email="ann@prospect.test")
    deal = factories.DealFactory(company=acme, contact_email="ann@prospect.test")
    customer = customer_of(acme, "carol@customer.test")
    thread = thread_with(account, "ann@prospect.test", lead=lead, deal=deal, customer=customer)
    with django_assert_num_queries(0):
        assert thread_crm_link(thread) is False


def test_one_query_per_kind_however_many_participants(account, acme):
    def queries_for(count: int) -> int:
        addresses = [f"p{count}-{n}@many.test" for n in range(count)]
        for address in addresses:
            factories.LeadFactory(company=acme, email=address)
            factories.DealFactory(company=acme, contact_email=address)
            customer_of(acme, address)
        thread = EmailThread.objects.get(pk=thread_with(account, *addresses).pk)
        with CaptureQueriesContext(connection) as captured:
            assert thread_crm_link(thread) is True
        row = stored(thread)
        assert row.lead_id and row.deal_id and row.customer_id
        return len(captured)

    assert queries_for(2) == queries_for(25)
