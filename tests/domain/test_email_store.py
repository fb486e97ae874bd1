from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.emails.models import Email, EmailThread
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.events import payloads
from tests import factories


@pytest.fixture
def account(acme, bob):
    return factories.EmailAccountFactory(company=acme, user=bob)


def _store(account, **fields) -> Email:
    defaults = {
        "message_id": "<1@mail.test>",
        "from_email": "client@mail.test",
        "subject": "Anvils",
        "body_text": "Two, please.",
        "direction": "inbound",
        "sent_at": timezone.now(),
    }
    return email_store(account=account, **(defaults | fields))


def test_email_store_counts_the_thread(account):
    thread = email_thread_create(account=account, subject="Anvils")

    _store(account, thread=thread)
    _store(account, thread=thread, message_id="<2@mail.test>")

    thread.refresh_from_db()
    assert thread.message_count == 2


def test_a_message_is_stored_once_per_account(account):
    _store(account)

    with pytest.raises(ValidationError):
        _store(account)

    assert Email.objects.count() == 1


def test_thread_create_keeps_to_the_accounts_company(account, globex):
    thread = email_thread_create(account=account, subject="x" * 600, participants=["a@mail.test"])
    assert thread.company_id == account.company_id
    assert len(thread.subject) == 500

    for field, row in (
        ("lead", factories.LeadFactory(company=globex)),
        ("deal", factories.DealFactory(company=globex)),
        ("customer", factories.CustomerCompanyFactory(company=globex).customer),
    ):
        with pytest.raises(ValidationError) as excinfo:
            email_thread_create(account=account, subject="Not ours", **{field: row})
        assert field in excinfo.value.message_dict

    assert EmailThread.objects.count() == 1


def test_email_store_appends_email_created_for_the_owner(acme, bob, account, events):
    email = _store(account)

    event = events.one()
    assert (event.type, event.topic, event.audience) == ("email.created", "emails", "user")
    assert (event.company_id, event.user_id) == (acme.id, bob.id)
    assert event.payload == payloads.email_payload(email)


def test_a_refused_message_appends_nothing(account, events):
    _store(account)
    events.mark()

    with pytest.raises(ValidationError):
        _store(account)

    assert events.new() == []
