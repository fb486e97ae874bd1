"""The printed company login opens /console/inbox/ on a demo mailbox of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hub.domain.authentication.models import User
from hub.domain.emails.models import Email, EmailAccount, EmailAttachment, EmailThread
from hub.ops.demo.data import NORTHWIND
from tests.ops_demo.conftest import seed

pytestmark = pytest.mark.django_db

CEO_EMAIL = NORTHWIND.member_email(NORTHWIND.members[0])


def thread_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-thread-id="(\d+)"', html)]


def ceo_threads() -> dict[str, EmailThread]:
    threads = EmailThread.objects.filter(email_account__user__email=CEO_EMAIL)
    return {t.subject: t for t in threads.select_related("lead", "deal", "customer__user")}


def test_the_company_login_has_a_mailbox_with_threads_about_the_crm(client, demo_media_root):
    output = seed()
    assert f"login {CEO_EMAIL} / hub-demo-team" in output
    assert "demo mailbox at /console/inbox/" in output

    account = EmailAccount.objects.get(user__email=CEO_EMAIL)
    assert not account.sync_enabled and account.smtp_host  # never synced; replies can queue
    threads = ceo_threads()
    assert len(threads) == 4
    assert threads["Field tablets: contract terms"].deal.contact_name == "George Hall"
    assert threads["Check-in kiosks for six airports"].lead.last_name == "Williams"
    store_list = threads["Store list for the spring openings"]
    assert store_list.customer.user.email == NORTHWIND.customers[0].email
    assert not store_list.is_read
    last = Email.objects.filter(thread=threads["Kiosk rollout: who leads it?"]).last()
    assert last.direction == "outbound" and last.status == "sent"
    for thread in threads.values():
        assert thread.emails.count() == thread.message_count >= 2
        assert thread.is_read == all(thread.emails.values_list("is_read", flat=True))
    enquiry = threads["Check-in kiosks for six airports"].emails.all()
    assert [e.is_read for e in enquiry] == [False, False]  # nobody answered the lead yet

    attachment = EmailAttachment.objects.get(email__thread=store_list)
    stored = Path(demo_media_root) / attachment.file_path.name
    assert stored.read_bytes().startswith(b"store,city,opening,terminals\n")
    assert attachment.file_name == "spring-openings.csv"

    ceo = User.objects.get(email=CEO_EMAIL)
    assert ceo.is_staff
    assert client.login(email=CEO_EMAIL, password="hub-demo-team")
    html = client.get("/console/inbox/").content.decode()
    assert "no e-mail account" not in html
    assert sorted(thread_ids(html)) == sorted(t.id for t in threads.values())
    assert re.search(r'id="inbox-unread"[^>]*>2 unread</span>', html)
    assert "PST</time>" in html or "PDT</time>" in html  # Northwind is in San Francisco
    page = client.get(f"/console/inbox/{store_list.id}/").content.decode()
    assert f'href="/console/inbox/attachments/{attachment.id}/"' in page
    download = client.get(f"/console/inbox/attachments/{attachment.id}/")
    assert b"".join(download.streaming_content) == stored.read_bytes()
    assert '<option value="' in page and "Thanks for your enquiry" in page


def test_a_demo_reply_uses_the_reply_template(client):
    seed()
    thread = ceo_threads()["Check-in kiosks for six airports"]
    template = thread.company.email_templates.get(name="Thanks for your enquiry")
    client.login(email=CEO_EMAIL, password="hub-demo-team")
    response = client.post(
        f"/console/inbox/{thread.id}/reply/",
        {"to": thread.lead.email, "template": template.id},
    )
    assert response.status_code == 302
    reply = Email.objects.get(thread=thread, direction="outbound")
    assert reply.body_text.startswith("Hi Noah Williams,")
    assert reply.body_text.endswith("Nancy Davolio\nNorthwind Traders")


def test_running_twice_changes_no_mail_and_a_reset_leaves_no_stray_files(
    demo_media_root, django_capture_on_commit_callbacks
):
    seed()
    before = (EmailAccount.objects.count(), EmailThread.objects.count(), Email.objects.count())
    files = sorted(p for p in Path(demo_media_root).rglob("*") if p.is_file())
    assert len(files) == 1

    assert "already present" in seed()
    assert (EmailAccount.objects.count(), EmailThread.objects.count(), Email.objects.count()) == (
        before
    )

    with django_capture_on_commit_callbacks(execute=True):
        seed("--reset")
    after = sorted(p for p in Path(demo_media_root).rglob("*") if p.is_file())
    assert len(after) == 1 and after != files  # the old file went with its rows


def test_a_demo_seeded_before_the_mailbox_gets_it_once():
    seed()
    EmailAccount.objects.filter(user__email=CEO_EMAIL).delete()
    assert not ceo_threads()

    output = seed()
    assert "Added nancy.davolio@northwind.example.com's demo mailbox (4 threads)" in output
    assert len(ceo_threads()) == 4
    counts = (EmailThread.objects.count(), Email.objects.count())

    assert "demo mailbox (" not in seed()
    assert (EmailThread.objects.count(), Email.objects.count()) == counts
