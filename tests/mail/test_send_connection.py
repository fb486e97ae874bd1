"""The account admin's "Test connection": a login to the real Dovecot and aiosmtpd, the outcome
as a message, no sync and nothing sent, and never the password on the page."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from hub.domain.emails.crypto import credential_encrypt
from hub.domain.emails.models import Email, EmailAccount, EmailSyncLog
from hub.domain.emails.services import email_account_connection_test
from tests import factories
from tests.admin.helpers import admin_url

pytestmark = pytest.mark.django_db


def _test_connection(client, *accounts) -> list[tuple[str, str]]:
    response = client.post(
        admin_url(EmailAccount, "changelist"),
        {"action": "test_connection", "_selected_action": [a.pk for a in accounts]},
        follow=True,
    )
    assert response.status_code == 200
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def ceo_client(client, alice):
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    client.force_login(alice)
    return client


def test_both_logins_succeed(ceo_client, imap_account, smtp_server, mailbox):
    mailbox.append(b"From: a@b.test\r\nSubject: hi\r\nMessage-ID: <x@b.test>\r\n\r\nhi\r\n")

    [(level, text)] = _test_connection(ceo_client, imap_account)

    assert level == "success"
    assert text == (
        f"{imap_account.email}: IMAP: logged in to {mailbox.host}. "
        f"SMTP: logged in to {smtp_server.host}:{smtp_server.port} (no TLS)."
    )
    # A login, nothing more: no sync ran, nothing was stored or sent.
    assert not EmailSyncLog.objects.exists() and not Email.objects.exists()
    assert smtp_server.received == []


def test_a_wrong_password_is_told_without_showing_it(
    ceo_client, imap_account, smtp_server, mailbox
):
    EmailAccount.objects.filter(pk=imap_account.pk).update(
        password=credential_encrypt("wrong-pass-4711")
    )

    [(level, text)] = _test_connection(ceo_client, imap_account)

    assert level == "error"
    imap, _, smtp = text.partition(" SMTP: ")
    assert "IMAP:" in imap and "login" in imap.lower()
    assert "refused the login" in smtp and "535" in smtp
    assert "wrong-pass-4711" not in text and mailbox.password not in text


def test_missing_servers_are_named(imap_account):
    imap_account.imap_host = imap_account.smtp_host = None

    checks = email_account_connection_test(account=imap_account)

    assert [(c.ok, c.text) for c in checks] == [
        (False, "IMAP: the account has no IMAP server."),
        (False, "SMTP: the account has no SMTP server."),
    ]


def test_a_viewer_cannot_test(client, acme, imap_account):
    viewer = factories.CompanyUserFactory(company=acme, role="support_staff").user
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)

    listing = client.get(admin_url(EmailAccount, "changelist"))
    assert listing.context["action_form"] is None
    assert _test_connection(client, imap_account) == []  # no outcome: nothing was tried
