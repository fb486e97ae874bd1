"""``/call <name>``: the leads, customers and deals of the workspace's company, and no other's."""

from __future__ import annotations

import time

import pytest

from hub.bots.calls import PICK_ACTION, PICK_SLACK_TIMEOUT_SECONDS
from hub.domain.authentication.models import CustomerCompany
from hub.domain.calls.models import Call
from tests import factories
from tests.slack.conftest import GLOBEX_TEAM, SlackUser

pytestmark = pytest.mark.django_db(transaction=True)


def ack(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body


def lead(company, first: str, last: str, phone: str | None = "+14155550123"):
    return factories.LeadFactory(company=company, first_name=first, last_name=last, phone=phone)


def test_one_matching_lead_is_called_and_the_call_is_tied_to_it(
    alice_slack, acme, alice, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    jane = lead(acme, "Jane", "Doe", "(415) 555-0142")
    lead(acme, "John", "Smith")

    body = ack(alice_slack.command("jane doe"))

    assert body["text"] == "Calling Jane Doe (lead) at +14155550142 from +14155550100…"
    worker.drain()
    call = Call.objects.get()
    assert (call.company, call.user, call.lead, call.to_number) == (
        acme,
        alice,
        jane,
        "+14155550142",
    )
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"].startswith(f"Call #{call.id} placed: Twilio is calling +14155550142")


def test_a_customer_and_a_deal_are_found_by_name(
    alice_slack, acme, alice_number, worker, fake_twilio, twilio_settings
):
    customer = factories.CustomerFactory(
        user__first_name="Marta", user__last_name="Quist", user__phone="+14155550177"
    )
    CustomerCompany.objects.create(customer=customer, company=acme)
    deal = factories.DealFactory(
        company=acme, title="Umbrella renewal", contact_name="Pat Roe", contact_phone="4155550188"
    )

    assert ack(alice_slack.command("marta quist"))["text"] == (
        "Calling Marta Quist (customer) at +14155550177 from +14155550100…"
    )
    assert ack(alice_slack.command("Umbrella Renewal"))["text"] == (
        "Calling Umbrella renewal – Pat Roe (deal) at +14155550188 from +14155550100…"
    )
    worker.drain()
    calls = {c.to_number: c for c in Call.objects.all()}
    assert calls["+14155550177"].customer == customer
    assert calls["+14155550188"].deal == deal


def test_several_matches_are_offered_as_buttons_and_a_click_calls_the_one_picked(
    alice_slack, acme, alice, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    lead(acme, "Sam", "Smith", "+14155550101")
    jones = lead(acme, "Sam", "Jones", "+14155550102")

    body = ack(alice_slack.command("sam"))

    assert body["text"].startswith("Several matches for “sam”; pick who to call (showing 2):")
    assert "• Sam Jones (lead)" in body["text"] and "• Sam Smith (lead)" in body["text"]
    [buttons] = [b["elements"] for b in body["blocks"] if b["type"] == "actions"]
    assert [b["text"]["text"] for b in buttons] == ["Sam Jones (lead)", "Sam Smith (lead)"]
    assert worker.queued() == 0

    picked = buttons[0]
    response = alice_slack.click(picked["action_id"], picked["value"])

    assert response.status_code == 200
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["replace_original"] is True
    assert reply["text"] == "Calling Sam Jones (lead) at +14155550102 from +14155550100…"
    worker.drain()
    call = Call.objects.get()
    assert (call.lead, call.user, call.to_number) == (jones, alice, "+14155550102")
    replies = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert replies[1]["text"].startswith(f"Call #{call.id} placed")


def test_no_match_is_said_so(alice_slack, acme, alice_number, worker):
    lead(acme, "Jane", "Doe")
    assert ack(alice_slack.command("zebulon"))["text"] == (
        "No lead, customer or deal of Acme matches “zebulon”."
    )
    assert worker.queued() == 0


def test_a_match_without_a_phone_is_said_so(alice_slack, acme, alice_number, worker):
    lead(acme, "Nora", "Nophone", phone=None)
    assert ack(alice_slack.command("nora"))["text"] == (
        "Nora Nophone (lead) has no phone number in the CRM."
    )
    assert worker.queued() == 0


def test_another_companys_lead_is_never_found(
    alice_slack, acme, globex, charlie, alice_number, worker, fake_slack
):
    lead(globex, "Zed", "Globex", "+14155550166")

    assert ack(alice_slack.command("zed"))["text"] == (
        "No lead, customer or deal of Acme matches “zed”."
    )
    assert worker.queued() == 0
    assert not Call.objects.exists()


def test_a_forged_button_for_another_companys_lead_calls_no_one(
    alice_slack, acme, globex, alice_number, worker, fake_slack
):
    theirs = lead(globex, "Zed", "Globex", "+14155550166")

    response = alice_slack.click(f"{PICK_ACTION}:lead:{theirs.pk}", f"lead:{theirs.pk}")

    assert response.status_code == 200
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"] == "That choice is no longer in the CRM; run /call again."
    assert worker.queued() == 0
    assert not Call.objects.exists()


def test_the_same_slack_user_in_another_companys_workspace_is_not_alice_there(
    client, fake_slack, alice, globex, globex_install, alice_number, worker
):
    # Slack user ids are per workspace: in Globex's, the person with alice's e-mail is not
    # a Globex member, so nothing of Acme (nor alice's number) is used.
    lead(globex, "Zed", "Globex", "+14155550166")
    fake_slack.users["UALICE01"] = alice.email
    in_globex = SlackUser(client, fake_slack, team_id=GLOBEX_TEAM, user_id="UALICE01")

    text = ack(in_globex.command("zed"))["text"]

    assert text == (
        "Your Slack user is not linked to a hub user: no active member of Globex has the "
        f"e-mail {alice.email}, the address Slack has for you."
    )
    [looked_up] = fake_slack.calls_to("/api/users.info")
    assert looked_up.token == "xoxb-globex-0001"
    assert worker.queued() == 0


def test_the_charlie_of_globex_calls_from_globex_only(
    client, fake_slack, globex, charlie, globex_install, acme, worker, fake_twilio, twilio_settings
):
    from hub.domain.calls.services import phone_number_add

    phone_number_add(
        company=globex,
        user=charlie,
        phone_number="+14155550200",
        twilio_phone_sid="PN" + "e" * 32,
        is_default=True,
    )
    lead(acme, "Zed", "Acme", "+14155550111")
    zed = lead(globex, "Zed", "Globex", "+14155550166")
    fake_slack.users["UCHARLIE"] = charlie.email
    charlie_slack = SlackUser(client, fake_slack, team_id=GLOBEX_TEAM, user_id="UCHARLIE")

    assert ack(charlie_slack.command("zed globex"))["text"] == (
        "Calling Zed Globex (lead) at +14155550166 from +14155550200…"
    )
    worker.drain()
    call = Call.objects.get()
    assert (call.company, call.user, call.lead) == (globex, charlie, zed)


def test_a_button_clicked_twice_rings_its_target_once(
    alice_slack, acme, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    lead(acme, "Sam", "Smith", "+14155550101")
    lead(acme, "Sam", "Jones", "+14155550102")
    [buttons] = [
        b["elements"] for b in ack(alice_slack.command("sam"))["blocks"] if "elements" in b
    ]
    picked = buttons[0]

    assert alice_slack.click(picked["action_id"], picked["value"]).status_code == 200
    first_key = alice_slack.last_key
    worker.drain()
    assert alice_slack.click(picked["action_id"], picked["value"]).status_code == 200
    worker.drain()

    call = Call.objects.get()
    assert len(fake_twilio.requests) == 1
    placed = fake_slack.wait_for(lambda: fake_slack.responses(first_key)[1:])
    again = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key)[1:])
    assert placed[0]["text"].startswith(f"Call #{call.id} placed")
    assert again[0]["text"] == (
        "Your call to +14155550102 was taken up already, so it is not placed twice. "
        f"The first time: {placed[0]['text']}"
    )


def test_the_same_button_of_another_message_is_another_call(
    alice_slack, acme, alice_number, worker, fake_twilio, twilio_settings
):
    jones = lead(acme, "Sam", "Jones", "+14155550102")
    value = f"lead:{jones.pk}"

    alice_slack.click(f"{PICK_ACTION}:{value}", value, message_ts="1700000000.000300")
    alice_slack.click(f"{PICK_ACTION}:{value}", value, message_ts="1700000000.000400")
    worker.drain()

    assert Call.objects.count() == 2


# Far slower than the click's cap: a missing cap would wait for the fake Slack's answer.
SLOW_SLACK = 5.0


def test_a_click_is_answered_inside_slacks_3_s_even_when_slack_is_slow(
    alice_slack, acme, alice_number, worker, fake_slack, settings
):
    # The client-wide timeout is far above the click's cap, so only the cap can cut a call short.
    settings.SLACK_HTTP_TIMEOUT_SECONDS = 10.0
    # Not linked yet, so users.info is asked; then the reply goes to the response URL.
    jones = lead(acme, "Sam", "Jones", "+14155550102")
    reply_path = f"/response/{alice_slack.user_id}-{alice_slack.sent + 1}"
    fake_slack.delays["/api/users.info"] = SLOW_SLACK
    fake_slack.delays[reply_path] = SLOW_SLACK
    started = time.monotonic()

    response = alice_slack.click(f"{PICK_ACTION}:lead:{jones.pk}", f"lead:{jones.pk}")

    answered = time.monotonic()
    assert response.status_code == 200
    [lookup] = fake_slack.arrivals("/api/users.info")
    [reply] = fake_slack.arrivals(reply_path)
    # users.info asked until the reply was sent: its cap, not the fake Slack's 5 s.
    looked_up = reply.at - lookup.at
    assert PICK_SLACK_TIMEOUT_SECONDS - 0.1 <= looked_up < PICK_SLACK_TIMEOUT_SECONDS + 0.5
    # The reply itself is capped the same way, and Slack hears the ack well inside its 3 s.
    assert answered - reply.at < PICK_SLACK_TIMEOUT_SECONDS + 0.5
    assert answered - started < 2.5
    assert reply.body["text"].startswith(
        "The hub could not look you up in Slack: Slack could not be reached for users.info"
    )
    assert reply.body["replace_original"] is True
    assert worker.queued() == 0


def test_a_click_by_a_linked_person_is_queued_though_the_reply_url_is_slow(
    alice_slack, acme, alice_number, worker, fake_slack, settings
):
    settings.SLACK_HTTP_TIMEOUT_SECONDS = 10.0  # only the click's cap can cut the reply short
    jones = lead(acme, "Sam", "Jones", "+14155550102")
    alice_slack.command("+14155550123")  # links alice
    reply_path = f"/response/{alice_slack.user_id}-{alice_slack.sent + 1}"
    fake_slack.delays[reply_path] = SLOW_SLACK

    response = alice_slack.click(f"{PICK_ACTION}:lead:{jones.pk}", f"lead:{jones.pk}")

    answered = time.monotonic()
    assert response.status_code == 200
    [reply] = fake_slack.arrivals(reply_path)
    assert answered - reply.at < PICK_SLACK_TIMEOUT_SECONDS + 0.5
    assert reply.body["text"] == "Calling Sam Jones (lead) at +14155550102 from +14155550100…"
    assert reply.body["replace_original"] is True
    assert worker.queued() == 2


def test_many_leads_do_not_hide_the_customers_and_deals_that_match(
    alice_slack, acme, globex, alice_number, worker
):
    for n in range(7):
        lead(acme, "Kim", f"Lead{n}")
    lead(globex, "Kim", "Outsider")  # another company's: never shown nor counted
    customer = factories.CustomerFactory(user__first_name="Kim", user__last_name="Customer")
    CustomerCompany.objects.create(customer=customer, company=acme)
    factories.DealFactory(company=acme, title="Kim's renewal", contact_name="Pat Roe")

    body = ack(alice_slack.command("kim"))

    assert body["text"].startswith(
        "Several matches for “kim”; pick who to call (showing 6; 3 more — narrow your search):"
    )
    [buttons] = [b["elements"] for b in body["blocks"] if b["type"] == "actions"]
    kinds = [b["value"].split(":")[0] for b in buttons]
    assert sorted(kinds) == ["customer", "deal", "lead", "lead", "lead", "lead"]
    assert "Outsider" not in body["text"]
    assert worker.queued() == 0


def test_a_full_name_match_comes_first(alice_slack, acme, alice_number, worker):
    lead(acme, "Sam", "Jonesalot", "+14155550101")
    customer = factories.CustomerFactory(user__first_name="Sam", user__last_name="Jones")
    CustomerCompany.objects.create(customer=customer, company=acme)

    body = ack(alice_slack.command("SAM  JONES"))

    [buttons] = [b["elements"] for b in body["blocks"] if b["type"] == "actions"]
    assert [b["text"]["text"] for b in buttons] == ["Sam Jones (customer)", "Sam Jonesalot (lead)"]
    assert worker.queued() == 0


def test_a_lone_loose_match_is_offered_with_a_button_not_called(
    alice_slack, acme, alice, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    alan = lead(acme, "Alan", "Smith", "+14155550142")

    body = ack(alice_slack.command("al"))

    assert body["text"] == "The only match for “al” is Alan Smith (lead); call them?"
    [buttons] = [b["elements"] for b in body["blocks"] if b["type"] == "actions"]
    assert [b["text"]["text"] for b in buttons] == ["Call Alan Smith (lead)"]
    assert worker.queued() == 0

    response = alice_slack.click(buttons[0]["action_id"], buttons[0]["value"])

    assert response.status_code == 200
    worker.drain()
    call = Call.objects.get()
    assert (call.lead, call.user, call.to_number) == (alan, alice, "+14155550142")


def test_a_lone_full_name_match_is_called_at_once(alice_slack, acme, alice_number, worker):
    lead(acme, "Alan", "Smith", "+14155550142")

    assert ack(alice_slack.command("alan smith"))["text"] == (
        "Calling Alan Smith (lead) at +14155550142 from +14155550100…"
    )
    assert worker.queued() == 1


def test_a_call_button_on_a_record_card_answers_below_the_card(
    alice_slack, alice_number, fake_slack, worker, acme
):
    """A card's Call button (block ``lead:<id>``) keeps the card: the answer comes below it."""
    jones = lead(acme, "Sam", "Jones", "+14155550102")
    response = alice_slack.click(
        f"{PICK_ACTION}:lead:{jones.pk}", f"lead:{jones.pk}", block_id=f"lead:{jones.pk}"
    )

    assert response.status_code == 200
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["replace_original"] is False
    assert reply["text"] == "Calling Sam Jones (lead) at +14155550102 from +14155550100…"
