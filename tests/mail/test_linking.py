"""CRM linking of threads: lead, deal contact and customer of the same company, never across."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.domain.crm.models import Deal, DealStatus
from hub.domain.emails.linking import thread_crm_link, threads_crm_link
from hub.domain.emails.models import EmailThread
from hub.domain.emails.services import email_thread_create
from hub.domain.emails.sync import mailbox_sync
from tests import factories
from tests.mail import sync_fixtures
from tests.mail.sync_fixtures import account_on, message

pytestmark = pytest.mark.django_db
second_mailbox = sync_fixtures.second_mailbox  # the fixture, for this module's tests


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


# --- a batch of threads at once (threads_crm_link), as a sync links them ----------------------


@pytest.fixture
def globex_account(globex, charlie):
    return factories.EmailAccountFactory(company=globex, user=charlie, email="charlie@globex.test")


def test_a_batch_links_each_thread_to_its_own_companys_records_only(
    account, globex_account, acme, globex
):
    acme_lead = factories.LeadFactory(company=acme, email="ann@prospect.test")
    globex_lead = factories.LeadFactory(company=globex, email="ann@prospect.test")
    globex_deal = factories.DealFactory(company=globex, contact_email="pat@client.test")
    acme_customer = customer_of(acme, "carol@customer.test")
    factories.CustomerCompanyFactory(customer=acme_customer, company=globex)  # Globex's too
    customer_of(globex, "dora@customer.test")  # only Globex knows Dora
    ours = [thread_with(account, "ann@prospect.test", "pat@client.test") for _ in range(3)]
    ours.append(thread_with(account, "carol@customer.test", "dora@customer.test"))
    theirs = thread_with(globex_account, "ann@prospect.test", "pat@client.test")

    assert threads_crm_link([*ours, theirs]) == 5

    for thread in ours[:3]:
        assert (stored(thread).lead_id, stored(thread).deal_id) == (acme_lead.id, None)
    assert (stored(ours[3]).lead_id, stored(ours[3]).customer_id) == (None, acme_customer.id)
    row = stored(theirs)
    assert (row.lead_id, row.deal_id, row.customer_id) == (globex_lead.id, globex_deal.id, None)
    # The objects show what is stored.
    assert (theirs.lead_id, theirs.deal_id) == (globex_lead.id, globex_deal.id)


def test_each_thread_of_a_batch_gets_its_own_preferred_records(account, acme):
    now = timezone.now()

    def aged(row, days: int):
        type(row).objects.filter(pk=row.pk).update(created_at=now - timedelta(days=days))
        return row

    # Ann: a converted lead (newest) and an open one; Bo: only closed leads, the newest wins.
    aged(factories.LeadFactory(company=acme, email="ann@p.test", status="converted"), 1)
    ann_open = aged(factories.LeadFactory(company=acme, email="ann@p.test", status="contacted"), 9)
    aged(factories.LeadFactory(company=acme, email="bo@p.test", status="unqualified"), 9)
    bo_newest = aged(factories.LeadFactory(company=acme, email="bo@p.test", status="converted"), 2)
    # Pat: the newest open deal; Quinn: only a lost deal; Ann's lead was converted to a deal.
    aged(factories.DealFactory(company=acme, contact_email="pat@c.test", status="won"), 0)
    aged(factories.DealFactory(company=acme, contact_email="pat@c.test"), 20)
    pat_open = aged(factories.DealFactory(company=acme, contact_email="pat@c.test"), 3)
    quinn_lost = factories.DealFactory(company=acme, contact_email="quinn@c.test", status="lost")
    # Carol, active, beats Eve, inactive but a newer customer; Dan, inactive, is the only one.
    carol = customer_of(acme, "carol@k.test")
    customer_of(acme, "eve@k.test", customer_status="inactive")
    dan = customer_of(acme, "dan@k.test", customer_status="inactive")
    threads = [
        thread_with(account, "ann@p.test"),
        thread_with(account, "bo@p.test", "pat@c.test"),
        thread_with(account, "eve@k.test", "quinn@c.test", "carol@k.test"),
        thread_with(account, "dan@k.test"),
    ]

    assert threads_crm_link(threads) == 4

    links = [(row.lead_id, row.deal_id, row.customer_id) for row in (stored(t) for t in threads)]
    assert links == [
        (ann_open.id, None, None),
        (bo_newest.id, pat_open.id, None),
        (None, quinn_lost.id, carol.id),
        (None, None, dan.id),
    ]


def test_a_batch_never_overwrites_and_counts_only_the_threads_it_changed(account, acme):
    factories.LeadFactory(company=acme, email="ann@prospect.test")
    chosen = factories.LeadFactory(company=acme, email="chosen@prospect.test")
    deal = factories.DealFactory(company=acme, contact_email="ann@prospect.test")
    raced = thread_with(account, "ann@prospect.test")
    EmailThread.objects.filter(pk=raced.pk).update(lead=chosen, deal=deal)  # after we read it
    unknown = thread_with(account, "nobody@nowhere.test")
    fresh = thread_with(account, "ann@prospect.test")

    assert threads_crm_link([raced, unknown, fresh]) == 1

    assert (stored(raced).lead_id, raced.lead_id, raced.deal_id) == (chosen.id, chosen.id, deal.id)
    assert stored(unknown).lead_id is None
    assert stored(fresh).deal_id == deal.id
    assert threads_crm_link([stored(raced), stored(unknown), stored(fresh)]) == 0


def test_a_batchs_queries_do_not_grow_with_its_threads(
    account, acme, django_assert_max_num_queries
):
    def linked(count: int) -> int:
        threads = []
        for n in range(count):
            address = f"b{count}-{n}@many.test"
            factories.LeadFactory(company=acme, email=address)
            factories.DealFactory(company=acme, contact_email=address)
            customer_of(acme, address)
            threads.append(EmailThread.objects.get(pk=thread_with(account, address).pk))
        # The accounts, 3 look-ups, the threads locked, 3 updates, the savepoint around them.
        with django_assert_max_num_queries(10) as captured:
            assert threads_crm_link(threads) == count
        assert {(t.lead_id is None, t.deal_id is None) for t in map(stored, threads)} == {
            (False, False)
        }
        return len(captured)

    assert linked(2) == linked(40)


def test_a_synced_batch_is_linked_with_statements_that_do_not_grow_with_it(
    mailbox, second_mailbox, acme, alice, globex
):
    def first_sync(mailbox, count: int) -> list[str]:
        account = account_on(mailbox, company=acme, user=alice)
        for n in range(count):
            address = f"s{count}-{n}@many.test"
            factories.LeadFactory(company=acme, email=address)
            factories.DealFactory(company=globex, contact_email=address)  # never Acme's
            mailbox.append(message(subject=f"Batch {count} quote {n}", sender=address))
        with CaptureQueriesContext(connection) as captured:
            assert mailbox_sync(account=account).new == count
        threads = EmailThread.objects.filter(email_account=account)
        assert threads.filter(lead__email__startswith=f"s{count}-").count() == count
        assert not threads.filter(deal__isnull=False).exists()
        # The embedded SQLite records each email.created event itself (a row per message).
        return [q["sql"] for q in captured.captured_queries if '"hub_event"' not in q["sql"]]

    # 30: Django's SQLite backend splits a bulk insert at 999 parameters (33 e-mails).
    assert len(first_sync(second_mailbox, 30)) == len(first_sync(mailbox, 3))
