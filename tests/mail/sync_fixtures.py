"""Helpers of the sync tests: well-formed test messages, a second mailbox, accounts on them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

NOW = datetime.now(UTC)


def message(
    *,
    subject: str = "Hello there",
    sender: str = "Carol Client <carol@client.test>",
    to: str = "owner@mail.test",
    cc: str | None = None,
    message_id: str | None = "auto",
    in_reply_to: str | None = None,
    references: str | None = None,
    date: datetime | None = None,
    body: str = "Could you send the quote?\n",
) -> bytes:
    """A well-formed message; ``message_id="auto"`` makes a unique one, None leaves it out."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or NOW)
    if message_id == "auto":
        message.counter += 1  # type: ignore[attr-defined]
        message_id = f"<m{message.counter}.{id(msg)}@client.test>"  # type: ignore[attr-defined]
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    msg.set_content(body)
    return msg.as_bytes()


message.counter = 0  # type: ignore[attr-defined]


def days_ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


def append_at(mailbox, raw: bytes, when: datetime, *, folder: str = "INBOX", flags=()) -> None:
    """APPEND with an internal date (as a mail that arrived then)."""
    with mailbox.client() as imap:
        imap.append(folder, raw, flags=flags, msg_time=when)


@pytest.fixture
def second_mailbox(dovecot):
    """Another user on the test Dovecot (for a second account or tenant)."""
    from tests.mail.conftest import Mailbox, _mailboxes

    address = f"other{next(_mailboxes)}-{id(dovecot) % 10000}@mail.test"
    return Mailbox(server=dovecot, address=address, password=dovecot.user_add(address))


def account_on(mailbox, *, company, user, **fields):
    """An IMAP account on a test mailbox (``fields`` override the defaults)."""
    from hub.domain.emails.services import email_account_create

    params = {
        "email": mailbox.address,
        "provider": "imap",
        "username": mailbox.address,
        "password": mailbox.password,
        "imap_host": mailbox.host,
        "imap_port": mailbox.port,
    }
    return email_account_create(company=company, user=user, **(params | fields))
