"""``/call`` from Slack: signed requests in, the call placed through the fake Twilio, the answer
back through the fake Slack."""

from __future__ import annotations

import time

import pytest
from dramatiq import Message

from hub.domain.calls.models import Call, CallStatus
from hub.integrations.slack.models import SlackUserLink
from hub.integrations.slack.services import LOOKUP_TIMEOUT_SECONDS
from tests.slack.conftest import ACME_TEAM, SlackUser

pytestmark = pytest.mark.django_db(transaction=True)


def ack_text(response) -> str:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


def test_call_by_number_places_the_call_and_reports_back(
    alice_slack, alice, acme, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    response = alice_slack.command("+1 415 555 0123")

    assert ack_text(response) == "Calling +14155550123 from +14155550100…"
    assert Call.objects.count() == 0  # placed by the worker, not in the request
    assert worker.queued() == 1
    worker.drain()

    call = Call.objects.get()
    assert (call.company, call.user, call.phone_number) == (acme, alice, alice_number)
    assert (call.from_number, call.to_number) == ("+14155550100", "+14155550123")
    assert call.twilio_call_sid in fake_twilio.calls
    assert call.status == CallStatus.INITIATED
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == (
        f"Call #{call.id} placed: Twilio is calling +14155550123 from +14155550100; "
        "when they answer, Twilio rings your phone (+14155550999)."
    )
    link = SlackUserLink.objects.get()
    assert (link.slack_user_id, link.user, link.installation.team_id) == (
        "UALICE01",
        alice,
        ACME_TEAM,
    )


def test_a_local_number_is_read_in_the_region_of_the_callers_number(
    alice_slack, acme, alice, worker, fake_twilio, twilio_settings
):
    from hub.domain.calls.services import phone_number_add

    phone_number_add(
        company=acme,
        user=alice,
        phone_number="+442071838750",
        twilio_phone_sid="PN" + "d" * 32,
        is_default=True,
    )

    assert ack_text(alice_slack.command("020 7946 0018")) == (
        "Calling +442079460018 from +442071838750…"
    )
    worker.drain()
    assert Call.objects.get().to_number == "+442079460018"


def test_the_link_is_made_once_then_reused(alice_slack, alice_number, worker, fake_slack):
    alice_slack.command("+14155550123")
    alice_slack.command("+14155550124")

    assert len(fake_slack.calls_to("/api/users.info")) == 1
    assert worker.queued() == 2
    [seen] = fake_slack.calls_to("/api/users.info")
    assert (seen.token, seen.body["user"]) == ("xoxb-acme-0001", "UALICE01")


def test_a_twilio_refusal_reaches_slack_in_words(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    fake_twilio.errors["+14155550199"] = (400, 21215, "Geo permission not enabled for this number")

    ack_text(alice_slack.command("+1 415 555 0199"))
    worker.drain()

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"].startswith("Twilio refused the call to +14155550199")
    assert "Geo permission" in reply["text"]
    assert Call.objects.get().status == CallStatus.FAILED


def test_an_expired_response_url_falls_back_to_an_ephemeral_message(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    ack_text(alice_slack.command("+14155550123"))
    fake_slack.expired.add(alice_slack.last_key)
    worker.drain()

    [posted] = fake_slack.wait_for(lambda: fake_slack.calls_to("/api/chat.postEphemeral"))
    assert (posted.token, posted.body["channel"], posted.body["user"]) == (
        "xoxb-acme-0001",
        "C0SALES01",
        "UALICE01",
    )
    assert posted.body["text"].startswith(f"Call #{Call.objects.get().id} placed")


@pytest.mark.parametrize("text", ["", "   "])
def test_no_argument_shows_the_usage(alice_slack, alice_number, worker, text):
    assert ack_text(alice_slack.command(text)).startswith("Usage: `/call +1 415 555 0100`")
    assert worker.queued() == 0


def test_an_impossible_number_is_said_so(alice_slack, alice_number, worker):
    text = ack_text(alice_slack.command("+1 555"))
    assert text.startswith("“+1 555” is not a phone number that can be called. Usage:")
    assert worker.queued() == 0


def test_without_a_default_number_nothing_is_queued(alice_slack, alice, worker):
    text = ack_text(alice_slack.command("+14155550123"))
    assert text == (
        f"{alice.email} has no default phone number in Acme; "
        "an admin can assign one in the console."
    )
    assert worker.queued() == 0


def test_a_slack_user_with_no_hub_user_is_told_which_email_was_looked_for(
    client, fake_slack, acme_install, alice_number, worker
):
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"
    stranger = SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="USTRANGER")

    text = ack_text(stranger.command("+14155550123"))

    assert text == (
        "Your Slack user is not linked to a hub user: no active member of Acme has the "
        "e-mail stranger@elsewhere.test, the address Slack has for you."
    )
    assert worker.queued() == 0
    assert not SlackUserLink.objects.exists()


def test_a_slack_user_whose_email_slack_does_not_share(
    client, fake_slack, acme_install, alice_number, worker
):
    fake_slack.users["UNOEMAIL"] = None
    text = ack_text(
        SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="UNOEMAIL").command("+14155550123")
    )
    assert "users:read.email" in text
    assert worker.queued() == 0


def test_a_former_member_is_no_longer_let_through(alice_slack, alice, acme, alice_number, worker):
    ack_text(alice_slack.command("+14155550123"))
    alice.memberships.filter(company=acme).update(is_active=False)

    text = ack_text(alice_slack.command("+14155550123"))

    assert text.startswith("Your Slack user is not linked to a hub user")
    assert worker.queued() == 1  # only the first


def test_an_uninstalled_workspace_is_told_so_and_slack_is_not_asked(
    client, fake_slack, acme_install, alice_number, worker
):
    fake_slack.users["UALICE01"] = "alice@acme.test"
    outsider = SlackUser(client, fake_slack, team_id="TUNKNOWN1", user_id="UALICE01")

    text = ack_text(outsider.command("+14155550123"))

    assert text.startswith("This Slack workspace (TUNKNOWN1) is not connected to a company")
    assert "slack_install --team TUNKNOWN1" in text
    assert fake_slack.requests == []
    assert worker.queued() == 0


def test_a_workspace_of_an_inactive_company_is_not_installed(
    alice_slack, acme, alice_number, worker
):
    acme.is_active = False
    acme.save(update_fields=["is_active"])
    assert "is not connected to a company" in ack_text(alice_slack.command("+14155550123"))
    assert worker.queued() == 0


def test_a_call_the_workers_reach_too_late_is_not_placed_and_the_person_is_told(
    alice_slack, alice, acme_install, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    from hub.domain.calls.outbound import MAX_WAIT_SECONDS
    from hub.workers.slack import slack_call_place

    slack_call_place.send(
        installation_id=acme_install.pk,
        user_id=alice.pk,
        slack_user_id="UALICE01",
        channel_id="C0SALES01",
        response_url=fake_slack.response_url("late"),
        to_number="+14155550123",
        requested_at=time.time() - MAX_WAIT_SECONDS - 60,
    )
    worker.drain()

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses("late"))
    assert reply["text"].startswith("The call to +14155550123 was not placed")
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_slow_slack_lookup_is_given_up_before_slacks_3_s_deadline(
    alice_slack, alice_number, worker, fake_slack, settings
):
    # The client-wide timeout is far above the lookup's cap, so only the cap can cut it short;
    # the fake Slack answers long after Slack's 3 s.
    settings.SLACK_HTTP_TIMEOUT_SECONDS = 10.0
    fake_slack.delays["/api/users.info"] = 6.0

    response = alice_slack.command("+14155550123")

    answered = time.monotonic()
    [lookup] = fake_slack.arrivals("/api/users.info")
    looked_up = answered - lookup.at
    assert LOOKUP_TIMEOUT_SECONDS - 0.1 <= looked_up < LOOKUP_TIMEOUT_SECONDS + 0.5
    text = ack_text(response)
    assert text.startswith("The hub could not look you up in Slack: Slack could not be reached")
    assert worker.queued() == 0
    assert not SlackUserLink.objects.exists()


def test_a_person_who_left_before_the_worker_ran_is_told_rather_than_left_waiting(
    client, fake_slack, acme, acme_install, bob, worker, fake_twilio, twilio_settings
):
    from hub.domain.calls.services import phone_number_add

    phone_number_add(
        company=acme,
        user=bob,
        phone_number="+14155550300",
        twilio_phone_sid="PN" + "f" * 32,
        is_default=True,
    )
    fake_slack.users["UBOB0001"] = bob.email
    bob_slack = SlackUser(client, fake_slack, team_id=ACME_TEAM, user_id="UBOB0001")
    ack_text(bob_slack.command("+14155550123"))
    bob.delete()  # between the answer and the worker

    worker.drain()

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(bob_slack.last_key))
    assert reply["text"].startswith("The hub ran into an error placing the call to +14155550123")
    assert not Call.objects.exists()
    assert fake_twilio.requests == []


def test_a_job_delivered_again_rings_no_one_twice(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    ack_text(alice_slack.command("+14155550123"))
    [job] = list(worker.broker.queues["slack"].queue)  # as the broker holds it
    worker.drain()
    call = Call.objects.get()

    # The worker died before acknowledging the job: the broker gives the very same job again.
    worker.broker.queues["slack"].put(job)
    worker.drain()

    assert Call.objects.count() == 1 and len(fake_twilio.requests) == 1
    first, again = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert first["text"].startswith(f"Call #{call.id} placed")
    assert again["text"] == (
        "Your call to +14155550123 was taken up already, so it is not placed twice. "
        f"The first time: {first['text']}"
    )


def _deliver_again(worker, job: bytes) -> None:
    worker.broker.queues["slack"].put(job)
    worker.drain()


def test_a_job_delivered_again_after_the_wait_limit_is_told_it_was_placed(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings, monkeypatch
):
    from hub.domain.calls import outbound

    ack_text(alice_slack.command("+14155550123"))
    [job] = list(worker.broker.queues["slack"].queue)
    worker.drain()
    call = Call.objects.get()
    # The broker gives a dead worker's job again only after its heartbeat timed out: late.
    monkeypatch.setattr(outbound, "MAX_WAIT_SECONDS", -1)

    _deliver_again(worker, job)

    assert Call.objects.count() == 1 and len(fake_twilio.requests) == 1
    first, again = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert first["text"].startswith(f"Call #{call.id} placed")
    assert again["text"].startswith("Your call to +14155550123 was taken up already")
    assert "not placed" not in again["text"].replace("not placed twice", "")


def test_a_job_delivered_again_after_a_refusal_says_it_was_refused_not_placed(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    fake_twilio.errors["+14155550199"] = (400, 21215, "Geo permission not enabled for this number")
    ack_text(alice_slack.command("+14155550199"))
    [job] = list(worker.broker.queues["slack"].queue)
    worker.drain()

    _deliver_again(worker, job)

    first, again = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert first["text"].startswith("Twilio refused the call to +14155550199")
    assert "placed already" not in again["text"]
    assert again["text"] == (
        "Your call to +14155550199 was taken up already, so it is not placed twice. "
        f"The first time: {first['text']}"
    )
    assert len(fake_twilio.requests) == 1


@pytest.mark.parametrize("turned_off", ["installation", "company"])
def test_a_workspace_turned_off_before_the_worker_ran_places_nothing_and_says_so(
    alice_slack, acme, acme_install, alice_number, worker, fake_slack, fake_twilio, turned_off
):
    ack_text(alice_slack.command("+14155550123"))
    row = acme_install if turned_off == "installation" else acme
    row.is_active = False
    row.save(update_fields=["is_active"])

    worker.drain()

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"] == (
        f"The call to +14155550123 was not placed: this Slack workspace ({ACME_TEAM}) was "
        "disconnected from the hub (or its company turned off) before the call was placed."
    )
    assert not Call.objects.exists() and fake_twilio.requests == []


def test_a_job_out_of_time_tells_the_person_before_dramatiq_fails_it(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings, monkeypatch
):
    from dramatiq.middleware import TimeLimitExceeded

    from hub.domain.calls import outbound
    from hub.workers import slack as slack_worker

    def out_of_time(**kwargs):
        raise TimeLimitExceeded  # as Dramatiq's TimeLimit raises it in the worker's thread

    monkeypatch.setattr(outbound, "call_place", out_of_time)
    ack_text(alice_slack.command("+14155550123"))

    with worker.running():
        worker.broker.join(slack_worker.QUEUE, timeout=30_000, fail_fast=False)

    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"].startswith("The hub ran into an error placing the call to +14155550123")
    assert len(worker.broker.dead_letters) == 1  # still failed, as Dramatiq should record it


def test_a_job_whose_worker_died_mid_placement_is_not_placed_again(
    alice_slack, alice, acme_install, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    from hub.integrations.slack.services import slack_call_request_claim

    ack_text(alice_slack.command("+14155550123"))
    [job] = list(worker.broker.queues["slack"].queue)
    request_id = Message.decode(job).kwargs["request_id"]
    # A first delivery claimed the request, then its worker died before Twilio answered.
    slack_call_request_claim(
        request_id=request_id, installation=acme_install, user=alice, to_number="+14155550123"
    )

    worker.drain()

    assert not Call.objects.exists() and fake_twilio.requests == []
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"].startswith(
        "The hub was interrupted while placing your call to +14155550123, so it may have been placed"
    )


def test_a_job_not_placed_is_answered_from_its_claim_when_delivered_again(
    alice_slack, acme_install, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    from hub.integrations.slack.models import SlackCallRequest

    ack_text(alice_slack.command("+14155550123"))
    [job] = list(worker.broker.queues["slack"].queue)
    acme_install.is_active = False
    acme_install.save(update_fields=["is_active"])
    worker.drain()
    # The workspace is back by the time the broker gives the same job again: still no call.
    acme_install.is_active = True
    acme_install.save(update_fields=["is_active"])

    _deliver_again(worker, job)

    assert not Call.objects.exists() and fake_twilio.requests == []
    first, again = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    assert first["text"].startswith("The call to +14155550123 was not placed: this Slack workspace")
    assert again["text"] == (
        "Your call to +14155550123 was taken up already, so it is not placed twice. "
        f"The first time: {first['text']}"
    )
    claim = SlackCallRequest.objects.get()
    assert (claim.call_id, claim.outcome) == (None, first["text"])


def test_the_same_job_delivered_twice_at_once_rings_once(
    alice_slack, alice_number, worker, fake_slack, fake_twilio, twilio_settings
):
    ack_text(alice_slack.command("+14155550123"))
    [job] = list(worker.broker.queues["slack"].queue)
    worker.broker.queues["slack"].put(job)  # two workers may take the two copies together

    worker.drain()

    call = Call.objects.get()
    assert len(fake_twilio.requests) == 1
    replies = fake_slack.wait_for(
        lambda: (
            len(fake_slack.responses(alice_slack.last_key)) == 2
            and fake_slack.responses(alice_slack.last_key)
        )
    )
    texts = sorted(reply["text"] for reply in replies)
    assert texts[0].startswith(f"Call #{call.id} placed")
    assert "it is not placed twice" in texts[1]


def test_a_claim_is_never_held_back_by_a_callers_transaction(alice, acme_install):
    from django.db import transaction

    from hub.integrations.slack.models import SlackCallRequest
    from hub.integrations.slack.services import slack_call_request_claim

    claim = {
        "request_id": "r-1",
        "installation": acme_install,
        "user": alice,
        "to_number": "+14155550123",
    }
    with pytest.raises(RuntimeError), transaction.atomic():
        slack_call_request_claim(**claim)
    assert not SlackCallRequest.objects.exists()
    assert slack_call_request_claim(**claim)[1] is True
    assert slack_call_request_claim(**claim)[1] is False
