"""The inbox in a real browser: new mail appears live, at the top, without a reload."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import cast

import psycopg
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from hub.domain.authentication.models import User
from hub.domain.authentication.services import company_user_add
from hub.domain.emails.services import email_store, email_thread_create
from tests import factories
from tests.live.conftest import database_url

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
]

SECONDS = 1000  # Playwright's timeouts are in milliseconds


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

    page = open_page(f"http://127.0.0.1:{live_hub.ports[0]}", owner)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto("/console/inbox/")
    expect(page.locator("#hub-status")).to_have_attribute(
        "data-status", "live", timeout=10 * SECONDS
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
