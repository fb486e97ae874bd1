"""The console's inbox: a person's own mail only, newest first, 50 a page, rows for live swaps;
read state, replies and new e-mail through the send queue, attachments, labelled times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser
from hub.domain.emails.attachments import email_attachments_store
from hub.domain.emails.hub_models import EmailDelivery
from hub.domain.emails.inbox_services import email_thread_mark_read
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailAttachment,
    EmailTemplate,
    EmailThread,
)
from hub.domain.emails.parse import ParsedAttachment
from hub.domain.emails.services import email_store, email_thread_create
from tests import factories

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def account_of(user, company, email: str):
    # An SMTP server (made up: nothing is sent here), so replies can be queued from it.
    return factories.EmailAccountFactory(
        company=company, user=user, email=email, smtp_host="smtp.mail.test", smtp_port=587
    )


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


# --- read state --------------------------------------------------------------------------------


def test_opening_a_thread_marks_it_read_and_the_list_shows_it_at_once(bob_client, bob_account):
    thread = conversation(bob_account, "Two new", messages=2)
    other = conversation(bob_account, "Still new")
    html = bob_client.get("/console/inbox/").content.decode()
    assert re.search(r'id="inbox-unread"[^>]*data-count="2"[^>]*>2 unread</span>', html)

    page = bob_client.get(f"/console/inbox/{thread.id}/").content.decode()
    # This visit still shows which messages were new ...
    assert unread_messages(page) == 2
    # ... and they are read from now on.
    thread.refresh_from_db()
    assert thread.is_read
    emails = list(thread.emails.all())
    assert all(e.is_read and e.read_at is not None for e in emails)
    html = bob_client.get("/console/inbox/").content.decode()
    assert 'data-unread="false"' in row_of(html, thread)
    assert 'data-unread="true"' in row_of(html, other)
    assert re.search(r'id="inbox-unread"[^>]*data-count="1"[^>]*>1 unread</span>', html)
    rows = bob_client.get(f"/console/inbox/?rows={thread.id}")
    assert rows["X-Inbox-Unread"] == "1"
    assert unread_messages(bob_client.get(f"/console/inbox/{thread.id}/").content.decode()) == 0


def unread_messages(html: str) -> int:
    return len(re.findall(r'<li data-email-id="\d+" [^>]*data-unread="true"', html))


def test_mark_read_is_for_the_owner_only(bob_account, alice, bob):
    thread = conversation(bob_account, "Mine", messages=3)
    with pytest.raises(PermissionDenied):
        email_thread_mark_read(user=alice, thread=thread)  # the CEO: not hers
    thread.refresh_from_db()
    assert not thread.is_read and not thread.emails.filter(is_read=True).exists()

    assert email_thread_mark_read(user=bob, thread=thread) == 3
    assert email_thread_mark_read(user=bob, thread=thread) == 0
    thread.refresh_from_db()
    assert thread.is_read


def test_another_users_thread_stays_unread_and_hidden(client, bob_account, alice):
    thread = conversation(bob_account, "Bob's")
    client.force_login(alice)
    assert client.get(f"/console/inbox/{thread.id}/").status_code == 404
    thread.refresh_from_db()
    assert not thread.is_read


# --- reply -------------------------------------------------------------------------------------


def test_the_thread_page_offers_a_reply_to_the_other_party(bob_client, bob_account):
    thread = conversation(bob_account, "Question", messages=2)
    html = bob_client.get(f"/console/inbox/{thread.id}/").content.decode()
    assert f'action="/console/inbox/{thread.id}/reply/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert re.search(r'<input type="text" name="to" value="ann@client.test"', html)
    assert 'name="template"' not in html  # no template in the company: no select


def test_a_reply_is_queued_with_its_reply_headers_and_shown_queued(bob_client, bob_account, bob):
    thread = conversation(bob_account, "Quote", messages=2)
    parent = thread.emails.order_by("sent_at").last()

    response = bob_client.post(
        f"/console/inbox/{thread.id}/reply/",
        {"to": "Ann Lee <ann@client.test>", "body": "Here it is.\n\nBob"},
    )

    assert response.status_code == 302
    assert response.url == f"/console/inbox/{thread.id}/"
    reply = Email.objects.get(thread=thread, direction="outbound")
    assert reply.email_account_id == bob_account.id
    assert reply.status == "queued" and reply.delivery.state == "pending"
    assert reply.to_emails == ["ann@client.test"]
    assert reply.subject == "Re: Quote"
    assert reply.body_text == "Here it is.\n\nBob"
    assert reply.reply_to_id == parent.id
    assert reply.in_reply_to == parent.message_id
    assert parent.message_id in reply.references.split()
    assert reply.created_by_id == bob.id
    thread.refresh_from_db()
    assert thread.message_count == 3

    page = bob_client.get(response.url).content.decode()
    assert "Your reply is queued" in page
    item = re.search(rf'<li data-email-id="{reply.id}".*?</li>', page, re.S).group(0)
    assert 'data-direction="outbound"' in item
    assert '<span class="delivery" data-state="queued">queued</span>' in item
    assert "Here it is." in item


def test_the_page_follows_the_delivery_sent_or_failed_with_the_reason(bob_client, bob_account):
    thread = conversation(bob_account, "Status")
    bob_client.post(f"/console/inbox/{thread.id}/reply/", {"to": "ann@client.test", "body": "Hi"})
    delivery = Email.objects.get(thread=thread, direction="outbound").delivery

    def badge() -> str:
        html = bob_client.get(f"/console/inbox/{thread.id}/").content.decode()
        return re.search(r'<span class="delivery"[^>]*>(.*?)</span>', html).group(1)

    EmailDelivery.objects.filter(pk=delivery.pk).update(last_error="421 try later")
    assert badge() == "queued (will retry: 421 try later)"
    EmailDelivery.objects.filter(pk=delivery.pk).update(
        state="failed", last_error="550 mailbox unavailable"
    )
    assert badge() == "failed: 550 mailbox unavailable"
    EmailDelivery.objects.filter(pk=delivery.pk).update(state="sent", last_error="")
    assert badge() == "sent"


def test_reply_errors_show_inline_and_queue_nothing(bob_client, bob_account, acme, bob):
    thread = conversation(bob_account, "Errors")
    template = template_of(acme, bob, "Thanks")
    url = f"/console/inbox/{thread.id}/reply/"
    cases = [
        ({"to": "ann@client.test, nope", "body": "Hi"}, "“nope” is not a valid e-mail address."),
        ({"to": "", "body": "Hi"}, "This field is required."),
        ({"to": "ann@client.test", "body": "  "}, "Write a message (or choose a template)."),
        (
            {"to": "ann@client.test", "body": "Hi", "template": template.id},
            "Leave the message empty to send the template, or choose none.",
        ),
    ]
    for posted, error in cases:
        response = bob_client.post(url, posted)
        assert response.status_code == 400, posted
        html = response.content.decode()
        assert error in html, posted
        assert '<ul class="errorlist' in html
        assert 'id="messages"' in html  # the conversation stays on the page
    assert not Email.objects.filter(direction="outbound").exists()


def test_a_reply_can_be_a_template_of_the_company(bob_client, bob_account, acme, bob, globex):
    lead = factories.LeadFactory(company=acme, first_name="Ann", last_name="Lee")
    thread = conversation(bob_account, "Enquiry", lead=lead)
    template = template_of(acme, bob, "Thanks")
    elsewhere = template_of(globex, globex.created_by, "Globex thanks")
    template_of(acme, bob, "Retired", is_active=False)

    html = bob_client.get(f"/console/inbox/{thread.id}/").content.decode()
    assert f'<option value="{template.id}">Thanks</option>' in html
    assert "Globex thanks" not in html and "Retired" not in html

    url = f"/console/inbox/{thread.id}/reply/"
    refused = bob_client.post(url, {"to": "ann@client.test", "template": elsewhere.id})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()

    response = bob_client.post(url, {"to": "ann@client.test", "template": template.id})
    assert response.status_code == 302
    reply = Email.objects.get(thread=thread, direction="outbound")
    assert reply.subject == "Re: Enquiry"
    assert reply.body_text == f"Hi Ann Lee, thanks for writing. {bob.get_full_name()}, Acme"


def test_an_account_without_smtp_shows_the_services_error(bob_client, bob_account):
    EmailAccount.objects.filter(pk=bob_account.pk).update(smtp_host=None)
    thread = conversation(bob_account, "No server")
    response = bob_client.post(
        f"/console/inbox/{thread.id}/reply/", {"to": "ann@client.test", "body": "Hi"}
    )
    assert response.status_code == 400
    assert "The e-mail account has no SMTP server." in response.content.decode()


def test_only_the_owner_can_reply_and_only_by_post_with_csrf(bob_account, bob, alice, charlie):
    thread = conversation(bob_account, "Private")
    url = f"/console/inbox/{thread.id}/reply/"
    posted = {"to": "ann@client.test", "body": "Hi"}
    for outsider in (alice, charlie):  # Bob's CEO and another company's
        client = Client()
        client.force_login(outsider)
        assert client.post(url, posted).status_code == 404

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post(url, posted).status_code == 403
    assert strict.get(url).status_code == 405
    assert Client().post(url, posted).status_code == 302  # to the login page
    assert not Email.objects.filter(direction="outbound").exists()


# --- compose -----------------------------------------------------------------------------------


def test_compose_sends_from_ones_own_account_into_a_new_thread(
    bob_client, bob_account, acme, bob, alice
):
    alices = account_of(alice, acme, "alice@acme.test")
    html = bob_client.get("/console/inbox/").content.decode()
    assert 'href="/console/inbox/compose/">New e-mail</a>' in html

    EmailAccount.objects.filter(pk=bob_account.pk).update(is_default=True)
    sales = account_of(bob, acme, "sales@acme.test")
    form = bob_client.get("/console/inbox/compose/").content.decode()
    assert f'<option value="{bob_account.id}" selected>bob@acme.test</option>' in form
    assert f'<option value="{sales.id}">sales@acme.test</option>' in form
    assert "alice@acme.test" not in form
    form = bob_client.get(f"/console/inbox/compose/?account={sales.id}").content.decode()
    assert f'<option value="{sales.id}" selected>sales@acme.test</option>' in form

    response = bob_client.post(
        "/console/inbox/compose/",
        {
            "account": bob_account.id,
            "to": "zoe@new.test; Dan Roe <dan@new.test>",
            "cc": "eve@new.test",
            "subject": "Hello from Acme",
            "body": "Nice to meet you.",
        },
    )
    assert response.status_code == 302
    email = Email.objects.get(direction="outbound")
    assert response.url == f"/console/inbox/{email.thread_id}/"
    assert email.email_account_id == bob_account.id
    assert email.to_emails == ["zoe@new.test", "dan@new.test"]
    assert email.cc_emails == ["eve@new.test"]
    assert email.subject == email.thread.subject == "Hello from Acme"
    assert email.in_reply_to is None and email.status == "queued"
    page = bob_client.get(response.url).content.decode()
    assert "Your e-mail is queued" in page and "Nice to meet you." in page

    stolen = {"account": alices.id, "to": "x@new.test", "subject": "S", "body": "B"}
    assert bob_client.post("/console/inbox/compose/", stolen).status_code == 404
    assert bob_client.get(f"/console/inbox/compose/?account={alices.id}").status_code == 404
    assert not Email.objects.filter(email_account=alices).exists()


def test_compose_errors_show_inline(bob_client, bob_account, acme, bob, globex):
    url = "/console/inbox/compose/"
    base = {"account": bob_account.id, "to": "zoe@new.test", "subject": "S", "body": "B"}
    template_of(acme, bob, "Acme's")
    template = template_of(globex, globex.created_by, "Globex")  # not Bob's company
    cases = [
        ({**base, "subject": ""}, "An e-mail needs a subject."),
        ({**base, "cc": "eve@"}, "“eve@” is not a valid e-mail address."),
        ({**base, "body": "", "template": template.id}, "Select a valid choice"),
        ({**base, "account": ""}, "This field is required."),
    ]
    for posted, error in cases:
        response = bob_client.post(url, posted)
        assert response.status_code == 400, posted
        assert error in response.content.decode(), posted
    assert not Email.objects.exists()
    assert not EmailThread.objects.exists()


def test_compose_without_an_account_says_so(client, staff_alice):
    client.force_login(staff_alice)
    html = client.get("/console/inbox/compose/").content.decode()
    assert "You have no e-mail account connected" in html
    assert 'id="compose-form"' not in html
    assert 'id="compose"' not in client.get("/console/inbox/").content.decode()


def test_someone_in_no_company_is_told_why_the_inbox_is_empty(client):
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    html = client.get("/console/inbox/").content.decode()
    assert "you are a member of none" in html


# --- attachments -------------------------------------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def with_attachment(account, *, content_type="text/csv") -> EmailAttachment:
    thread = conversation(account, "Files")
    email = thread.emails.get()
    email_attachments_store(
        email=email,
        attachments=[
            ParsedAttachment(
                file_name="store list.csv",
                content_type=content_type,
                size=13,
                content=b"store,opens\n1",
            )
        ],
    )
    return email.attachments.get()


def test_an_attachment_is_linked_and_downloads_under_its_name(bob_client, bob_account, media_root):
    attachment = with_attachment(bob_account)
    html = bob_client.get(f"/console/inbox/{attachment.email.thread_id}/").content.decode()
    assert (
        f'<a href="/console/inbox/attachments/{attachment.id}/" download>store list.csv</a>' in html
    )

    response = bob_client.get(f"/console/inbox/attachments/{attachment.id}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"store,opens\n1"
    assert response["Content-Disposition"] == 'attachment; filename="store list.csv"'
    assert response["Content-Type"] == "text/csv"


def test_a_strange_stored_type_is_served_as_bytes(bob_client, bob_account, media_root):
    attachment = with_attachment(bob_account, content_type="text/html; x=<script>")
    response = bob_client.get(f"/console/inbox/attachments/{attachment.id}/")
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")


def test_attachments_of_others_and_missing_files_are_not_found(
    client, bob_account, alice, charlie, bob, media_root
):
    attachment = with_attachment(bob_account)
    url = f"/console/inbox/attachments/{attachment.id}/"
    for outsider in (alice, charlie):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(bob)
    assert client.get("/console/inbox/attachments/999999/").status_code == 404
    attachment.file_path.delete(save=False)
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302


# --- times -------------------------------------------------------------------------------------


def test_times_are_in_the_companys_zone_labelled(bob_client, bob_account, acme):
    at = datetime(2025, 1, 15, 18, 30, tzinfo=UTC)
    thread = conversation(bob_account, "Winter", at=at)
    html = bob_client.get("/console/inbox/").content.decode()
    assert ">2025-01-15 18:30 UTC</time>" in row_of(html, thread)
    assert '"time_zone": "UTC"' in html

    acme.timezone = "America/Los_Angeles"
    acme.save(update_fields=["timezone"])
    html = bob_client.get("/console/inbox/").content.decode()
    assert ">2025-01-15 10:30 PST</time>" in row_of(html, thread)
    assert '"time_zone": "America/Los_Angeles"' in html
    page = bob_client.get(f"/console/inbox/{thread.id}/").content.decode()
    assert ">2025-01-15 10:29 PST</time>" in page  # the message, a minute before the thread

    acme.timezone = "Not/AZone"
    acme.save(update_fields=["timezone"])
    html = bob_client.get("/console/inbox/").content.decode()
    assert ">2025-01-15 18:30 UTC</time>" in row_of(html, thread)


def template_of(company, user, name: str, *, is_active: bool = True) -> EmailTemplate:
    template = EmailTemplate(
        company=company,
        name=name,
        category="general",
        created_by=user,
        subject="Thanks",
        body_text="Hi {{customer_name}}, thanks for writing. {{user_name}}, {{company_name}}",
        body_html="<p>Hi {{customer_name}}, thanks for writing.</p>",
        is_active=is_active,
    )
    template.full_clean()
    template.save()
    return template
