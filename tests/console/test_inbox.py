"""The console's inbox: a person's own mail only, newest first, 50 a page, rows for live swaps."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser
from hub.domain.emails.models import EmailThread
from hub.domain.emails.services import email_store, email_thread_create
from tests import factories

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def account_of(user, company, email: str):
    return factories.EmailAccountFactory(company=company, user=user, email=email)


def conversation(account, subject: str, *, at=None, messages=1, **links) -> EmailThread:
    at = at or NOW
    thread = email_thread_create(
        account=account,
        subject=subject,
        participants=["ann@client.test"],
        last_message_at=at,
        **links,
    )
    for n in range(messages):
        email_store(
            account=account,
            thread=thread,
            message_id=f"<{thread.pk}.{n}@client.test>",
            from_email="ann@client.test",
            from_name="Ann Lee",
            to_emails=[account.email],
            subject=subject,
            body_text=f"Message {n} of {subject}",
            direction="inbound",
            sent_at=at - timedelta(minutes=messages - n),
        )
    thread.refresh_from_db()
    return thread


def row_of(html: str, thread: EmailThread) -> str:
    match = re.search(rf'<tr data-thread-id="{thread.id}".*?</tr>', html, re.S)
    assert match, f"no row of thread {thread.id}"
    return match.group(0)


def thread_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-thread-id="(\d+)"', html)]


@pytest.fixture
def bob_account(acme, bob):
    return account_of(bob, acme, "bob@acme.test")


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ("/console/inbox/", "/console/inbox/1/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/admin/login/?next=")


def test_the_inbox_shows_the_users_threads_with_sender_subject_snippet_and_count(
    bob_client, bob_account
):
    thread = conversation(bob_account, "Quote for 40 seats", messages=3)
    response = bob_client.get("/console/inbox/")
    assert response.status_code == 200
    html = response.content.decode()
    row = row_of(html, thread)
    assert 'data-unread="true"' in row
    assert ">Ann Lee</td>" in row
    assert "Quote for 40 seats" in row
    assert "Message 2 of Quote for 40 seats" in row  # the newest message's snippet
    assert '<td class="count" data-field="count">3</td>' in row
    assert f'href="/console/inbox/{thread.id}/"' in row
    assert '<script defer src="/static/hub/inbox.js"></script>' in html
    assert 'href="/console/inbox/" aria-current="page">Inbox</a>' in html


def test_a_read_thread_is_not_marked_unread(bob_client, bob_account):
    thread = conversation(bob_account, "Seen already")
    EmailThread.objects.filter(pk=thread.pk).update(is_read=True)
    html = bob_client.get("/console/inbox/").content.decode()
    assert 'data-unread="false"' in row_of(html, thread)


def test_linked_records_show_as_chips(bob_client, bob_account, acme):
    lead = factories.LeadFactory(company=acme, first_name="Ann", last_name="Lee")
    deal = factories.DealFactory(company=acme, title="Forty seats")
    thread = conversation(bob_account, "Linked", lead=lead, deal=deal)
    html = bob_client.get("/console/inbox/").content.decode()
    assert (
        f'href="/admin/crm/lead/{lead.id}/change/" title="Lead: Ann Lee">Lead: Ann Lee</a>' in html
    )
    assert (
        f'href="/admin/crm/deal/{deal.id}/change/" title="Deal: Forty seats">Deal: Forty seats</a>'
        in html
    )
    assert thread_ids(html) == [thread.id]


def test_a_linked_customer_shows_as_a_chip(bob_client, bob_account, acme):
    user = factories.UserFactory(first_name="Carol", last_name="Diaz", account_type="customer")
    customer = factories.CustomerFactory(user=user)
    factories.CustomerCompanyFactory(customer=customer, company=acme)
    conversation(bob_account, "From a customer", customer=customer)
    html = bob_client.get("/console/inbox/").content.decode()
    assert f'href="/admin/authentication/customer/{customer.id}/change/"' in html
    assert ">Customer: Carol Diaz</a>" in html


def test_mail_is_personal_not_even_the_ceo_sees_a_colleagues_threads(
    client, bob_account, alice, charlie, globex, acme
):
    bobs = conversation(bob_account, "For bob only")
    alices = conversation(account_of(alice, acme, "alice@acme.test"), "For alice")
    charlies = conversation(account_of(charlie, globex, "charlie@globex.test"), "Globex mail")

    client.force_login(alice)  # Acme's CEO
    assert thread_ids(client.get("/console/inbox/").content.decode()) == [alices.id]
    for other in (bobs, charlies):
        assert client.get(f"/console/inbox/{other.id}/").status_code == 404
        assert thread_ids(client.get(f"/console/inbox/?rows={other.id}").content.decode()) == []

    client.force_login(charlie)
    assert thread_ids(client.get("/console/inbox/").content.decode()) == [charlies.id]
    assert client.get(f"/console/inbox/{bobs.id}/").status_code == 404


def test_a_former_member_no_longer_sees_the_companys_mailbox(bob_client, bob_account, bob):
    conversation(bob_account, "Before leaving")
    CompanyUser.objects.filter(user=bob).update(is_active=False)
    html = bob_client.get("/console/inbox/").content.decode()
    assert thread_ids(html) == []


def test_threads_are_newest_first_fifty_a_page(bob_client, bob_account):
    threads = [
        conversation(bob_account, f"Thread {n}", at=NOW - timedelta(hours=n), messages=0)
        for n in range(120)
    ]
    newest_first = [t.id for t in threads]

    first = bob_client.get("/console/inbox/").content.decode()
    assert thread_ids(first) == newest_first[:50]
    assert "Page 1 of 3" in first and 'rel="next" href="?page=2"' in first
    assert (
        thread_ids(bob_client.get("/console/inbox/?page=2").content.decode())
        == newest_first[50:100]
    )
    last = bob_client.get("/console/inbox/?page=3").content.decode()
    assert thread_ids(last) == newest_first[100:]
    assert 'rel="prev" href="?page=2"' in last and 'rel="next"' not in last


def test_the_page_reads_a_fixed_number_of_queries_however_many_threads(bob_client, bob_account):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert bob_client.get("/console/inbox/").status_code == 200
        return len(captured)

    for n in range(3):
        conversation(bob_account, f"Few {n}")
    few = queries()
    for n in range(30):
        conversation(bob_account, f"Many {n}", messages=2)
    assert queries() == few


def test_the_account_filter_appears_with_several_accounts_and_filters(
    bob_client, bob_account, acme, bob, alice
):
    main = conversation(bob_account, "Main box")
    html = bob_client.get("/console/inbox/").content.decode()
    assert 'id="inbox-accounts"' not in html

    support = account_of(bob, acme, "support@acme.test")
    side = conversation(support, "Support box", at=NOW - timedelta(hours=1))
    html = bob_client.get("/console/inbox/").content.decode()
    assert 'id="inbox-accounts"' in html
    assert thread_ids(html) == [main.id, side.id]
    filtered = bob_client.get(f"/console/inbox/?account={support.id}").content.decode()
    assert thread_ids(filtered) == [side.id]
    assert f'"account": {support.id}' in filtered  # the live script filters the same way

    not_bobs = account_of(alice, acme, "alice@acme.test")
    assert bob_client.get(f"/console/inbox/?account={not_bobs.id}").status_code == 404
    assert bob_client.get("/console/inbox/?account=abc").status_code == 404


def test_rows_are_served_for_the_live_page(bob_client, bob_account):
    one = conversation(bob_account, "One")
    two = conversation(bob_account, "Two", messages=2)
    response = bob_client.get(f"/console/inbox/?rows={one.id},{two.id},x,999999")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert sorted(thread_ids(html)) == sorted([one.id, two.id])


def test_a_thread_shows_its_messages_in_order_with_text_escaped(bob_client, bob_account):
    thread = conversation(bob_account, "Order", messages=2)
    factories.EmailFactory(  # an HTML-only message, as the CRM may store it
        email_account=bob_account,
        thread=thread,
        message_id="<html-only@client.test>",
        from_email="eve@client.test",
        subject="<script>alert(1)</script>",
        body_text="",
        body_html="<p>Only <b>HTML</b></p><script>alert(2)</script>",
        direction="inbound",
        sent_at=NOW + timedelta(minutes=1),
    )
    response = bob_client.get(f"/console/inbox/{thread.id}/")
    assert response.status_code == 200
    html = response.content.decode()
    ids = [int(i) for i in re.findall(r'data-email-id="(\d+)"', html)]
    assert len(ids) == 3 and ids == sorted(ids)
    assert html.index("Message 0 of Order") < html.index("Message 1 of Order")
    assert "Only HTML" in html
    assert "<script>alert" not in html


def test_the_nav_of_every_console_page_links_the_inbox(client, staff_alice):
    client.force_login(staff_alice)
    assert 'href="/console/inbox/"' in client.get("/console/calls/").content.decode()


def test_the_inbox_script_is_served(client):
    response = client.get("/static/hub/inbox.js")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b'hub.on("email.created"' in body
