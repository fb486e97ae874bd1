"""Message identity (SCHEMA.md D10): stored ids, synthetic ids, subjects for threading."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from hub.domain.emails.identity import (
    message_id_clean,
    message_id_synthetic,
    subject_normalize,
)
from hub.domain.emails.models import Email
from hub.domain.emails.parse import message_parse
from tests import factories

SYNTHETIC = re.compile(r"<hub-[0-9a-f]{40}@synthetic\.invalid>")


def _id_less(body: str = "No Message-ID here.") -> bytes:
    msg = EmailMessage()
    msg["From"] = "printer@office.example"
    msg["To"] = "alice@acme.example"
    msg["Subject"] = "Scan"
    msg["Date"] = "Tue, 04 Mar 2025 10:15:00 +0000"
    msg.set_content(body)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


@pytest.mark.parametrize("value", [None, "", "   ", "\r\n\t"])
def test_clean_empty_is_none(value):
    assert message_id_clean(value) is None


def test_clean_strips_and_keeps_short_ids_as_written():
    assert message_id_clean("  <Mixed.Case@Example.COM>\r\n") == "<Mixed.Case@Example.COM>"
    assert message_id_clean("<" + "a" * 250 + "@x>") == "<" + "a" * 250 + "@x>"  # 255 exactly


def test_clean_shortens_long_ids_deterministically_inside_brackets():
    long_a = "<" + "a" * 300 + "@example.com>"
    long_b = "<" + "a" * 300 + "@example.org>"  # same first 255 characters

    cleaned = message_id_clean(long_a)

    assert cleaned is not None
    assert len(cleaned) == 255
    assert cleaned.startswith("<aaaa") and cleaned.endswith(">")
    assert cleaned == message_id_clean(long_a)
    assert cleaned != message_id_clean(long_b)
    assert re.fullmatch(r"<a+\.[0-9a-f]{64}>", cleaned)


def test_synthetic_id_is_stable_per_account_and_content():
    raw = _id_less()
    first = message_id_synthetic(account_id=7, raw=raw)

    assert SYNTHETIC.fullmatch(first)
    assert message_id_synthetic(account_id=7, raw=raw) == first
    assert message_id_synthetic(account_id=8, raw=raw) != first
    assert message_id_synthetic(account_id=7, raw=_id_less("Another page.")) != first
    # "1" + "2…" and "12" + "…" must not meet.
    assert message_id_synthetic(account_id=1, raw=b"2x") != message_id_synthetic(
        account_id=12, raw=b"x"
    )


def test_synthetic_id_is_the_same_in_inbox_and_sent_and_after_a_uidvalidity_change(
    dovecot, mailbox
):
    """The premise of content-derived ids, checked on a real server: the bytes fetched from
    two folders, and again after UIDVALIDITY changes, are the bytes appended."""
    raw = _id_less()
    assert message_parse(raw).message_id is None
    mailbox.append(raw, folder="INBOX")
    mailbox.append(raw, folder="Sent")

    def fetched(folder: str) -> bytes:
        client = mailbox.client()
        try:
            client.select_folder(folder, readonly=True)
            (uid,) = client.search("ALL")
            return client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
        finally:
            client.logout()

    inbox, sent = fetched("INBOX"), fetched("Sent")
    dovecot.uidvalidity_set(mailbox.address, "INBOX", 4242)
    again = fetched("INBOX")

    ids = {message_id_synthetic(account_id=3, raw=r) for r in (raw, inbox, sent, again)}
    assert ids == {message_id_synthetic(account_id=3, raw=raw)}


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Quarterly numbers", "quarterly numbers"),
        ("Re: Quarterly numbers", "quarterly numbers"),
        ("RE: re: Fwd: FW: Quarterly   numbers ", "quarterly numbers"),
        ("AW: WG: SV: VS: Antw: Quarterly numbers", "quarterly numbers"),
        ("Re[2]: Re(3): Quarterly numbers", "quarterly numbers"),
        ("Re : [sales-team] Re: [EXT] Quarterly numbers", "quarterly numbers"),
        ("[sales-team]Quarterly\tnumbers", "quarterly numbers"),
        ("Regarding the STRASSE deal", "regarding the strasse deal"),
        ("Straße deal", "strasse deal"),
        ("Fwd:", ""),
        ("", ""),
        ("Meeting re: budget", "meeting re: budget"),
    ],
)
def test_subject_normalize(subject, expected):
    assert subject_normalize(subject) == expected


def test_cleaned_long_id_fits_the_column_and_stays_unique_per_account(db):
    account = factories.EmailAccountFactory()
    long_id = "<" + "x" * 400 + "@example.com>"
    cleaned = message_id_clean(long_id)

    email = factories.EmailFactory(email_account=account, message_id=cleaned)
    email.refresh_from_db()

    assert email.message_id == cleaned
    assert Email.objects.filter(email_account=account, message_id=cleaned).count() == 1
