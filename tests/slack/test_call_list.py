"""``/call list [today|missed]``: the member's calls of today and the ones they missed, from the
database alone, in the company's time zone, with Call back buttons that place the call."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from hub.domain.calls.models import Call, CallDirection, CallStatus, Disposition
from hub.domain.calls.selectors import calls_for_member, company_today
from tests import factories
from tests.slack.conftest import ACME_TEAM, SlackUser
from tests.slack.events_fixtures import call_row

pytestmark = pytest.mark.django_db(transaction=True)

IN, OUT = CallDirection.INBOUND, CallDirection.OUTBOUND


def answer(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body


def listed_ids(body: dict) -> list[int]:
    """The call ids of the list's lines, in order (``#12`` after the arrow)."""
    return [
        int(block["text"]["text"].split("#", 1)[1].split(" ", 1)[0])
        for block in body.get("blocks", [])[1:]
    ]


def buttons(body: dict) -> dict[int, dict]:
    found = {}
    for block in body.get("blocks", []):
        if "accessory" in block:
            button = block["accessory"]
            found[int(button["value"].split(":")[1])] = button
    return found


def noon(company, minutes: int = 0) -> datetime:
    """Today at noon where the company is, give or take: "today" whenever the test runs."""
    zone = ZoneInfo(company.timezone or "UTC")
    start = datetime.combine(company_today(company=company), datetime.min.time(), tzinfo=zone)
    return start + timedelta(hours=12, minutes=minutes)


@pytest.fixture
def bob_number(acme, bob):
    return factories.PhoneNumberFactory(company=acme, user=bob, phone_number="+14155550300")


def test_list_shows_todays_calls_of_the_member_newest_first(
    alice_slack, alice, bob, acme, globex, alice_number, bob_number, fake_slack, worker
):
    jane = factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe")
    placed = call_row(
        company=acme, number=alice_number, user=alice, direction=OUT, lead=jane, at=noon(acme, -30)
    )
    taken = call_row(company=acme, number=alice_number, at=noon(acme, -10))
    missed = call_row(company=acme, number=alice_number, status=CallStatus.NO_ANSWER, at=noon(acme))
    call_row(company=acme, number=alice_number, at=noon(acme, -13 * 60))  # yesterday
    call_row(company=acme, number=bob_number, user=bob, direction=OUT, at=noon(acme))  # bob's
    call_row(company=globex, user=alice, direction=OUT, at=noon(acme))  # another company's

    body = answer(alice_slack.command("list"))

    assert body["text"].startswith("*Your calls today (")
    assert ":* 3" in body["text"].splitlines()[0]
    assert listed_ids(body) == [missed.pk, taken.pk, placed.pk]
    assert "Jane Doe (lead)" in body["text"]
    assert list(buttons(body)) == [missed.pk]  # only a missed call has Call back
    assert worker.queued() == 0
    assert fake_slack.api_calls("chat.postMessage") == []
    assert answer(alice_slack.command("list today"))["blocks"] == body["blocks"]


def test_list_missed_shows_missed_and_voicemail_calls_of_the_last_7_days(
    alice_slack, alice, acme, alice_number, bob_number, worker
):
    now = timezone.now()
    no_answer = call_row(
        company=acme, number=alice_number, status=CallStatus.NO_ANSWER, at=now - timedelta(hours=2)
    )
    busy = call_row(
        company=acme, number=alice_number, status=CallStatus.BUSY, at=now - timedelta(days=3)
    )
    voicemail = call_row(
        company=acme,
        number=alice_number,
        status=CallStatus.COMPLETED,
        disposition=Disposition.VOICEMAIL,
        at=now - timedelta(days=1),
    )
    call_row(company=acme, number=alice_number, status=CallStatus.COMPLETED)  # taken
    call_row(
        company=acme, number=alice_number, user=alice, direction=OUT, status=CallStatus.NO_ANSWER
    )  # hers, unanswered by the other side: not missed
    call_row(
        company=acme, number=alice_number, status=CallStatus.NO_ANSWER, at=now - timedelta(days=9)
    )  # too old
    call_row(company=acme, number=bob_number, status=CallStatus.NO_ANSWER)  # bob's

    body = answer(alice_slack.command("LIST Missed"))

    assert body["text"].startswith("*Your missed calls of the last 7 days:* 3")
    assert listed_ids(body) == [no_answer.pk, voicemail.pk, busy.pk]
    assert set(buttons(body)) == {no_answer.pk, voicemail.pk, busy.pk}
    button = buttons(body)[busy.pk]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        f"call_pick:call:{busy.pk}",
        f"call:{busy.pk}",
        "Call back",
    )
    assert "Voicemail" in body["text"] and "Missed (busy)" in body["text"]


def test_today_is_the_companys_today(alice_slack, alice, acme, alice_number):
    acme.timezone = "Pacific/Kiritimati"  # UTC+14: its day starts 14 hours before UTC's
    acme.save(update_fields=["timezone"])
    zone = ZoneInfo("Pacific/Kiritimati")
    today = company_today(company=acme)
    start = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    first = call_row(company=acme, number=alice_number, at=start + timedelta(minutes=1))
    call_row(company=acme, number=alice_number, at=start - timedelta(minutes=1))  # yesterday there

    assert listed_ids(answer(alice_slack.command("list"))) == [first.pk]


@pytest.mark.parametrize("bad", ["", "Not/A_Zone", "../../etc/passwd", "UTC+2"])
def test_a_company_time_zone_that_names_no_zone_falls_back_to_the_hubs(acme, alice, bad, settings):
    acme.timezone = bad
    assert company_today(company=acme) == timezone.localdate(timezone=ZoneInfo(settings.TIME_ZONE))
    assert calls_for_member(user=alice, company=acme, day=company_today(company=acme)).total == 0


def test_an_empty_list_says_so(alice_slack, alice_number):
    assert answer(alice_slack.command("list"))["text"].startswith("No calls today (")
    assert answer(alice_slack.command("list missed"))["text"] == (
        "No missed calls in the last 7 days."
    )


def test_at_most_20_lines_and_the_count_of_all(alice_slack, acme, alice_number):
    for n in range(25):
        call_row(company=acme, number=alice_number, at=noon(acme, -n))

    body = answer(alice_slack.command("list"))

    assert len(listed_ids(body)) == 20
    assert body["text"].splitlines()[0].endswith("the latest 20 of 25")
    assert len(body["blocks"]) == 21


def test_a_list_needs_no_phone_number_of_ones_own(alice_slack, alice, acme):
    call_row(company=acme, user=alice, direction=OUT, at=noon(acme))
    assert len(listed_ids(answer(alice_slack.command("list")))) == 1


def test_list_with_another_word_shows_its_usage(alice_slack, alice_number, worker):
    text = answer(alice_slack.command("list <!channel>"))["text"]
    assert text == (
        "`/call list` does not know “&lt;!channel&gt;”. `/call list` shows your calls today; "
        "`/call list missed`, the ones you missed."
    )
    assert worker.queued() == 0


def test_list_is_a_command_before_a_name(alice_slack, acme, alice_number, worker):
    factories.LeadFactory(company=acme, first_name="List", last_name="Smith", phone="+14155550142")

    assert answer(alice_slack.command("list"))["text"].startswith("No calls today")
    assert worker.queued() == 0
    # The usage says how to reach them: more of the name, in any order.
    text = answer(alice_slack.command("smith list"))["text"]
    assert text == "The only match for “smith list” is List Smith (lead); call them?"


def test_help_shows_the_usage_with_list(alice_slack, worker):
    text = answer(alice_slack.command("help"))["text"]
    assert text.startswith("Usage: `/call +1 415 555 0100`")
    assert "`/call list missed`" in text and "`/call smith list`" in text
    assert "`/call help`" in answer(alice_slack.command(""))["text"]
    assert worker.queued() == 0


def test_an_unlinked_slack_user_is_told_why_and_sees_no_calls(
    client, fake_slack, acme_install, acme, alice_number
):
    call_row(company=acme, number=alice_number)
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"
    stranger = SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="USTRANGER")

    body = answer(stranger.command("list"))

    assert body["text"].startswith("Your Slack user is not linked to a hub user")
    assert "blocks" not in body or not body["blocks"]


def test_call_back_rings_the_missed_caller_and_ties_the_call_to_their_lead(
    alice_slack, alice, acme, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    jane = factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe")
    missed = call_row(
        company=acme,
        number=alice_number,
        status=CallStatus.NO_ANSWER,
        other="+14155550177",
        lead=jane,
    )
    button = buttons(answer(alice_slack.command("list missed")))[missed.pk]

    alice_slack.click(button["action_id"], button["value"])
    worker.drain()

    call = Call.objects.exclude(pk=missed.pk).get()
    assert (call.direction, call.to_number, call.lead, call.user) == (
        OUT,
        "+14155550177",
        jane,
        alice,
    )
    first, placed = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert first["text"] == "Calling Jane Doe (lead) at +14155550177 from +14155550100…"
    assert placed["text"].startswith(f"Call #{call.id} placed")


def test_call_back_of_a_withheld_number_is_said_so(
    alice_slack, acme, alice_number, fake_slack, worker
):
    missed = call_row(
        company=acme, number=alice_number, status=CallStatus.NO_ANSWER, other="anonymous"
    )

    alice_slack.click(f"call_pick:call:{missed.pk}", f"call:{missed.pk}")

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"] == "The number of that call, “anonymous”, cannot be called back."
    assert worker.queued() == 0


def test_lines_escape_what_the_crm_holds(alice_slack, acme, alice_number):
    lead = factories.LeadFactory(company=acme, first_name="<!channel>", last_name="&")
    call_row(company=acme, number=alice_number, lead=lead)

    body = answer(alice_slack.command("list"))

    assert "<!channel>" not in json.dumps(body)
    assert "&lt;!channel&gt; &amp; (lead)" in body["text"]
