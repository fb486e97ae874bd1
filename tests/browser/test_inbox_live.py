"""The inbox in a real browser: new mail appears live, at the top, without a reload; opening a
thread reads it; a reply is queued."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import cast

import psycopg
from django.utils import timezone
from playwright.sync_api import expect

from hub.domain.authentication.models import User
from hub.domain.authentication.services import company_user_add
from hub.domain.emails.models import Email, EmailThread
from hub.domain.emails.services import email_store, email_thread_create
from tests import factories
from tests.browser.helpers import BROWSER_MARKS, SECONDS, open_live
from tests.live.conftest import database_url

pytestmark = BROWSER_MARKS


def member(company, role: str) -> User:
    user = cast(User, factories.UserFactory())  # not staff: the inbox needs only a signed-in user
    company_user_add(company=company, user=user, role=role)
    return user


def conversation(account, subject: str, at, *, sender="Ann Lee", address="ann@client.test"):
    thread = email_thread_create(
        account=account, subject=subject, participants=[address], last_message_at=at
    )
    email_store(
        account=account,
        thread=thread,
        message_id=f"<{thread.pk}.{subject.replace(' ', '.')}@client.test>",
        from_email=address,
        from_name=sender,
        to_emails=[account.email],
        subject=subject,
        body_text=f"About {subject}: please call me back.",
        direction="inbound",
        status="delivered",
        sent_at=at,
    )
    return thread


def sql_reply(thread, account, *, body: str) -> None:
    """A reply written the way the CRM (or psql) would: the row and its thread, in one commit."""
    with psycopg.connect(database_url(), autocommit=False) as conn:
        conn.execute(
            "INSERT INTO emails_email (thread_id, email_account_id, message_id, from_email,"
            " from_name, to_emails, subject, body_text, body_html, direction, status, is_read,"
            " sent_at, tracking_enabled, opens_count, clicks_count, has_attachments, created_at)"
            " VALUES (%s, %s, %s, 'dan@client.test', 'Dan Roe', %s::jsonb, %s, %s, '',"
            " 'inbound', 'delivered', false, now(), false, 0, 0, false, now())",
            [
                thread.pk,
                account.pk,
                f"<reply.{thread.pk}@client.test>",
                json.dumps([account.email]),
                f"Re: {thread.subject}",
                body,
            ],
        )
        conn.execute(
            "UPDATE emails_emailthread SET last_message_at = now(),"
            " message_count = message_count + 1, is_read = false WHERE id = %s",
            [thread.pk],
        )


def row_ids(page) -> list[str]:
    return page.locator("#threads tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.threadId)"
    )


def test_new_mail_appears_live_at_the_top_of_the_inbox(live_hub, open_page):
    acme = factories.CompanyFactory()
    owner = member(acme, "sales_manager")
    ceo = member(acme, "ceo")
    account = factories.EmailAccountFactory(company=acme, user=owner, email="owner@acme.test")
    ceo_account = factories.EmailAccountFactory(company=acme, user=ceo, email="ceo@acme.test")
    now = timezone.now()
    recent = conversation(account, "Recent question", now - timedelta(hours=1))
    older = conversation(account, "Older question", now - timedelta(hours=2))
    oldest = conversation(account, "Oldest question", now - timedelta(days=3))

    page = open_live(
        open_page, live_hub, owner, "/console/inbox/", viewport={"width": 1280, "height": 800}
    )
    rows = page.locator("#threads tbody tr")
    assert row_ids(page) == [str(recent.id), str(older.id), str(oldest.id)]
    page.evaluate("window.notReloaded = true")

    # A new conversation, stored through the service the sync path uses.
    fresh = conversation(account, "Brand new lead", now, sender="Zoe Park", address="zoe@new.test")
    top = rows.first
    expect(top).to_have_attribute("data-thread-id", str(fresh.id), timeout=10 * SECONDS)
    expect(top).to_have_attribute("data-unread", "true")
    expect(top.locator('[data-field="from"]')).to_have_text("Zoe Park")
    expect(top.locator('[data-field="subject"]')).to_have_text("Brand new lead")
    expect(top.locator('[data-field="snippet"]')).to_have_text(
        "About Brand new lead: please call me back."
    )
    expect(top.locator('[data-field="count"]')).to_have_text("1", timeout=10 * SECONDS)

    # Mail of a colleague (here the company's CEO) never shows up on this page ...
    ceo_thread = conversation(ceo_account, "For the CEO only", now)
    # ... while a reply written straight into the database (the trigger's path) bumps its
    # old thread to the top, with the server's count.
    sql_reply(oldest, account, body="Any news?\n\nDan")
    expect(top).to_have_attribute("data-thread-id", str(oldest.id), timeout=10 * SECONDS)
    expect(top.locator('[data-field="from"]')).to_have_text("Dan Roe")
    expect(top.locator('[data-field="snippet"]')).to_have_text("Any news? Dan")
    expect(top.locator('[data-field="count"]')).to_have_text("2", timeout=10 * SECONDS)
    assert row_ids(page) == [str(oldest.id), str(fresh.id), str(recent.id), str(older.id)]
    expect(page.locator(f'tr[data-thread-id="{ceo_thread.id}"]')).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True

    # It fits 1280×800 without scrolling sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280

    # A click opens the conversation.
    top.locator('[data-field="subject"]').click()
    expect(page).to_have_url(f"http://127.0.0.1:{live_hub.ports[0]}/console/inbox/{oldest.id}/")
    messages = page.locator("#messages > li")
    expect(messages).to_have_count(2)
    expect(messages.last).to_contain_text("Any news?")


def test_another_users_thread_is_not_found(live_hub, open_page):
    acme = factories.CompanyFactory()
    owner = member(acme, "sales_manager")
    colleague = member(acme, "ceo")
    account = factories.EmailAccountFactory(company=acme, user=owner, email="owner@acme.test")
    thread = conversation(account, "Private", timezone.now())

    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", colleague)
    response = page.goto(f"/console/inbox/{thread.id}/")
    assert response is not None and response.status == 404


def test_opening_a_thread_clears_its_unread_mark_and_a_reply_shows_queued(live_hub, open_page):
    acme = factories.CompanyFactory(timezone="America/Los_Angeles")
    owner = member(acme, "sales_manager")
    account = factories.EmailAccountFactory(
        company=acme, user=owner, email="owner@acme.test", smtp_host="smtp.mail.test"
    )
    now = timezone.now()
    question = conversation(account, "Delivery date?", now - timedelta(hours=1))
    read = conversation(account, "Old news", now - timedelta(hours=2))
    EmailThread.objects.filter(pk=read.pk).update(is_read=True)

    base = f"http://127.0.0.1:{live_hub.ports[0]}"
    page = open_live(open_page, live_hub, owner, "/console/inbox/")
    badge = page.locator("#inbox-unread")
    row = page.locator(f'tr[data-thread-id="{question.id}"]')
    expect(badge).to_have_text("1 unread")
    expect(row).to_have_attribute("data-unread", "true")
    expect(row.locator('[data-field="time"]')).to_have_text(re.compile(r" P[SD]T$"))

    # New mail arrives live: the badge counts it at once, in the company's time zone.
    fresh = conversation(account, "Brand new", timezone.now(), address="zoe@new.test")
    fresh_row = page.locator(f'tr[data-thread-id="{fresh.id}"]')
    expect(fresh_row).to_have_attribute("data-unread", "true", timeout=10 * SECONDS)
    expect(fresh_row.locator('[data-field="time"]')).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d P[SD]T$")
    )
    expect(badge).to_have_text("2 unread")

    # Opening the conversation reads it; back in the list it is read, and counted so.
    row.locator('[data-field="subject"]').click()
    expect(page).to_have_url(f"{base}/console/inbox/{question.id}/")
    page.go_back()
    expect(row).to_have_attribute("data-unread", "false", timeout=10 * SECONDS)
    expect(badge).to_have_text("1 unread")

    # A reply from the thread's page is queued and shown so.
    row.locator('[data-field="subject"]').click()
    expect(page.locator("#id_to")).to_have_value("ann@client.test")
    page.fill("#id_body", "It ships on Monday.\n\nOwner")
    page.get_by_role("button", name="Send reply").click()
    expect(page).to_have_url(f"{base}/console/inbox/{question.id}/")
    expect(page.locator(".messages")).to_contain_text("Your reply is queued")
    last = page.locator("#messages > li").last
    expect(last).to_have_attribute("data-direction", "outbound")
    expect(last.locator(".delivery")).to_have_text("queued")
    expect(last).to_contain_text("It ships on Monday.")
    reply = Email.objects.get(thread=question, direction="outbound")
    parent = Email.objects.get(thread=question, direction="inbound")
    assert reply.in_reply_to == parent.message_id and reply.status == "queued"

    # A reply with a bad address stays on the page with the error next to the field.
    page.fill("#id_to", "ann@")
    page.fill("#id_body", "Again")
    page.get_by_role("button", name="Send reply").click()
    expect(page.locator("#reply .errorlist")).to_contain_text("is not a valid e-mail address")
    assert Email.objects.filter(thread=question, direction="outbound").count() == 1
