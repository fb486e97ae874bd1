"""``/call`` with odd input: what a member typed comes back as text (never a mention or a link),
a NUL byte never reaches PostgreSQL, forged buttons find nothing, and a second click of a
button is told the truth about the first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from dramatiq import Message

from hub.bots.calls import PICK_ACTION
from hub.domain.calls.models import Call, CallStatus
from hub.integrations.slack.models import SlackCallRequest
from hub.integrations.slack.services import slack_call_request_claim
from tests import factories
from tests.slack.events_fixtures import call_row

pytestmark = pytest.mark.django_db(transaction=True)


def ack_text(response) -> str:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<http://evil.test|click me>", "&lt;http://evil.test|click me&gt;"),
        ("<@U0ALICE01>", "&lt;@U0ALICE01&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
    ],
)
def test_typed_text_is_echoed_escaped(alice_slack, alice_number, worker, typed, shown):
    text = ack_text(alice_slack.command(typed))

    assert text == f"No lead, customer or deal of Acme matches “{shown}”."
    assert "<" not in text and ">" not in text
    assert worker.queued() == 0


def test_a_long_echo_is_cut(alice_slack, alice_number):
    text = ack_text(alice_slack.command("zz" * 150))

    echoed = text.split("“", 1)[1].split("”", 1)[0]
    assert len(echoed) == 80 and echoed.endswith("…")


def test_a_number_that_cannot_be_called_is_echoed_escaped(alice_slack, alice_number):
    text = ack_text(alice_slack.command("+1 (555) <!channel>"))
    # Not a number (it has letters): searched for as a name, and echoed as text.
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text


def test_names_from_the_crm_are_escaped_too(alice_slack, acme, alice_number):
    factories.LeadFactory(company=acme, first_name="<!channel>", last_name="Sam", phone=None)
    factories.LeadFactory(company=acme, first_name="Sam", last_name="<b>", phone=None)

    body = alice_slack.command("sam").json()

    assert "<!channel>" not in body["text"] and "&lt;!channel&gt; Sam (lead)" in body["text"]
    section = body["blocks"][0]["text"]["text"]
    assert "<" not in section


@pytest.mark.parametrize("typed", ["zed\x00", "\x00zed", "z\x00e\x00d", "zed\x07\x1b"])
def test_a_nul_byte_is_dropped_before_the_database_and_is_no_match(
    alice_slack, alice_number, worker, typed
):
    text = ack_text(alice_slack.command(typed))

    assert text == "No lead, customer or deal of Acme matches “zed”."
    assert worker.queued() == 0


def test_a_nul_byte_in_a_name_still_finds_the_lead(alice_slack, acme, alice_number, worker):
    factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe", phone="+14155550142")

    text = ack_text(alice_slack.command("Jane\x00 Doe"))

    assert text == "Calling Jane Doe (lead) at +14155550142 from +14155550100…"
    assert worker.queued() == 1


@pytest.mark.parametrize("typed", ["\x00", "\x00\x00 \x01", "\n\t"])
def test_nothing_but_control_characters_shows_the_usage(alice_slack, alice_number, worker, typed):
    assert ack_text(alice_slack.command(typed)).startswith("Usage: `/call +1 415 555 0100`")
    assert worker.queued() == 0


def test_a_huge_query_is_no_match_without_a_search(alice_slack, alice_number, worker):
    text = ack_text(alice_slack.command("word " * 800))
    assert text.startswith("No lead, customer or deal of Acme matches “word word")
    assert len(text) < 200


@pytest.mark.parametrize(
    "value",
    [
        "lead:\x00",
        "lead:12\x003",
        "lead:999999999999999999",
        "lead:99999999999999999999999",
        "lead:-1",
        "<!channel>:1",
        "call:999999999999999999",
        "call:abc",
        "",
    ],
)
def test_a_forged_button_calls_no_one(alice_slack, alice_number, worker, fake_slack, value):
    response = alice_slack.click(f"{PICK_ACTION}:{value}", value)

    assert response.status_code == 200
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert "no longer in the CRM" in reply["text"] or "not in the CRM" in reply["text"]
    assert worker.queued() == 0


def test_a_call_back_button_for_another_companys_call_calls_no_one(
    alice_slack, globex, alice_number, worker, fake_slack
):
    theirs = call_row(company=globex, status=CallStatus.NO_ANSWER)

    alice_slack.click(f"{PICK_ACTION}:call:{theirs.pk}", f"call:{theirs.pk}")

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"].startswith("That call is not in the CRM any more")
    assert worker.queued() == 0


# -- a button clicked twice ----------------------------------------------------------------------


def _replies(fake_slack, key: str, count: int) -> list[dict]:
    return fake_slack.wait_for(
        lambda: len(fake_slack.responses(key)) >= count and fake_slack.responses(key)
    )


def test_a_second_click_while_the_first_is_placing_is_told_the_call_is_being_placed(
    alice_slack, alice, acme, acme_install, alice_number, worker, fake_slack, fake_twilio
):
    sam = factories.LeadFactory(
        company=acme, first_name="Sam", last_name="Jones", phone="+14155550102"
    )
    value = f"lead:{sam.pk}"
    alice_slack.click(f"{PICK_ACTION}:{value}", value)
    [job] = list(worker.broker.queues["slack"].queue)
    # The first click's job is at work: it has claimed the request and not yet heard Twilio.
    slack_call_request_claim(
        request_id=Message.decode(job).kwargs["request_id"],
        installation=acme_install,
        user=alice,
        to_number="+14155550102",
    )

    worker.drain()

    _, reply = _replies(fake_slack, alice_slack.last_key, 2)
    assert reply["text"] == (
        "Your call to +14155550102 is being placed already (you clicked twice); it is not "
        "placed twice. You will be told here when it is through."
    )
    assert "interrupted" not in reply["text"] and "may have been placed" not in reply["text"]
    assert not Call.objects.exists() and fake_twilio.requests == []


def test_an_old_empty_claim_of_a_click_is_said_to_be_interrupted(
    alice_slack, alice, acme, acme_install, alice_number, worker, fake_slack, fake_twilio
):
    sam = factories.LeadFactory(
        company=acme, first_name="Sam", last_name="Jones", phone="+14155550102"
    )
    value = f"lead:{sam.pk}"
    alice_slack.click(f"{PICK_ACTION}:{value}", value)
    [job] = list(worker.broker.queues["slack"].queue)
    slack_call_request_claim(
        request_id=Message.decode(job).kwargs["request_id"],
        installation=acme_install,
        user=alice,
        to_number="+14155550102",
    )
    # Older than a job may run: whoever claimed it is gone.
    SlackCallRequest.objects.update(claimed_at=timezone.now() - timedelta(seconds=61))

    worker.drain()

    _, reply = _replies(fake_slack, alice_slack.last_key, 2)
    assert reply["text"].startswith(
        "The hub was interrupted while placing your call to +14155550102, so it may have been placed"
    )
    assert fake_twilio.requests == []


def test_a_double_click_rings_once_and_nobody_is_told_it_was_interrupted(
    alice_slack, acme, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    sam = factories.LeadFactory(
        company=acme, first_name="Sam", last_name="Jones", phone="+14155550102"
    )
    value = f"lead:{sam.pk}"
    alice_slack.click(f"{PICK_ACTION}:{value}", value)
    first_key = alice_slack.last_key
    alice_slack.click(f"{PICK_ACTION}:{value}", value)  # before any worker ran
    assert worker.queued() == 2

    worker.drain()

    call = Call.objects.get()
    assert len(fake_twilio.requests) == 1
    texts = [r["text"] for r in _replies(fake_slack, first_key, 2)[1:]]
    texts += [r["text"] for r in _replies(fake_slack, alice_slack.last_key, 2)[1:]]
    assert sum(t.startswith(f"Call #{call.id} placed") for t in texts) == 1
    assert not any("interrupted" in t for t in texts)
    assert any("not placed twice" in t for t in texts)
