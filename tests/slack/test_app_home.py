"""App Home: opening the Home tab publishes the member's deals, pipeline and calls through a
worker; a stranger sees how to get linked; Slack's retries and 429s do not do the work twice."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from hub.bots.home_view import REFRESH_ACTION
from hub.domain.calls.models import Call, CallDirection, CallStatus
from tests import factories
from tests.slack.conftest import GLOBEX_TEAM
from tests.slack.events_fixtures import all_text, call_row, home_click, home_opened, published

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def acme_records(acme, alice, bob, alice_number):
    """Alice's open deal, bob's, a won one of hers; her calls of today, one missed."""
    jane = factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe")
    records = {
        "hers": factories.DealFactory(
            company=acme, title="Initech renewal", assigned_to=alice, value=Decimal("12500")
        ),
        "bobs": factories.DealFactory(
            company=acme, title="Bobs big deal", assigned_to=bob, value=Decimal("500")
        ),
        "won": factories.DealFactory(
            company=acme, title="Closed already", assigned_to=alice, status="won"
        ),
        "placed": call_row(
            company=acme,
            number=alice_number,
            user=alice,
            direction=CallDirection.OUTBOUND,
            other="+14155550142",
            lead=jane,
        ),
        "missed": call_row(
            company=acme, number=alice_number, status=CallStatus.NO_ANSWER, other="+14155550177"
        ),
    }
    return records


def test_opening_home_publishes_the_members_home_through_a_worker(
    client, alice_slack, acme_records, globex, worker, fake_slack
):
    factories.DealFactory(company=globex, title="Globex secret", assigned_to=None)
    call_row(company=globex, status=CallStatus.NO_ANSWER, other="+14155550666")

    started = time.monotonic()
    response = home_opened(client, "UALICE01")
    assert response.status_code == 200 and time.monotonic() - started < 3
    assert published(fake_slack) == [] and worker.queued() == 1

    worker.drain()

    [body] = published(fake_slack)
    assert body["user_id"] == "UALICE01"
    view = body["view"]
    assert view["type"] == "home"
    shown = all_text(view["blocks"])
    assert "Initech renewal" in shown and "$12,500" in shown
    assert "Bobs big deal" not in shown  # not hers
    assert "Closed already" not in shown
    assert "Globex" not in shown and "+14155550666" not in shown
    assert "Pipeline: " in shown and "weighted" in shown
    assert "Jane Doe (lead)" in shown and "+14155550142" in shown
    missed = acme_records["missed"]
    assert f'"value": "call:{missed.pk}"' in shown and "Call back" in shown
    assert f'"action_id": "{REFRESH_ACTION}"' in shown
    assert len(view["blocks"]) <= 100


def test_the_pipeline_counts_only_what_the_member_may_see(
    client, fake_slack, acme_install, acme, worker
):
    member = factories.CompanyUserFactory(company=acme, can_manage_deals=False).user
    fake_slack.users["UMEMBER1"] = member.email
    factories.DealFactory(company=acme, title="Theirs", assigned_to=member, value=Decimal("700"))
    factories.DealFactory(company=acme, title="Not theirs", value=Decimal("90000"))

    home_opened(client, "UMEMBER1")
    worker.drain()

    [body] = published(fake_slack)
    shown = all_text(body["view"]["blocks"])
    assert "Theirs" in shown and "$700" in shown
    assert "Not theirs" not in shown and "90,000" not in shown


def test_a_slack_user_who_is_not_a_member_sees_how_to_get_linked(
    client, fake_slack, acme_install, worker
):
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"

    home_opened(client, "USTRANGER")
    worker.drain()

    [body] = published(fake_slack)
    shown = all_text(body["view"]["blocks"])
    assert "not linked to the hub" in shown
    assert "stranger@elsewhere.test" in shown and "How to get linked" in shown
    assert REFRESH_ACTION in shown
    assert not worker.broker.dead_letters


def test_a_retried_delivery_publishes_once(client, alice_slack, acme_records, worker, fake_slack):
    assert home_opened(client, "UALICE01", event_id="EvHOME0001").status_code == 200
    assert home_opened(client, "UALICE01", event_id="EvHOME0001", retry_num=1).status_code == 200
    assert worker.queued() == 1

    worker.drain()

    assert len(published(fake_slack)) == 1


def test_each_opening_is_its_own_event(client, alice_slack, acme_records, worker, fake_slack):
    home_opened(client, "UALICE01")
    home_opened(client, "UALICE01")
    worker.drain()
    assert len(published(fake_slack)) == 2


def test_the_messages_tab_publishes_nothing(client, alice_slack, worker, fake_slack):
    home_opened(client, "UALICE01", tab="messages")
    assert worker.queued() == 0


def test_the_refresh_button_publishes_again(client, alice_slack, acme_records, worker, fake_slack):
    response = home_click(client, "UALICE01", REFRESH_ACTION, "home")
    assert response.status_code == 200
    worker.drain()
    [body] = published(fake_slack)
    assert "Initech renewal" in all_text(body["view"]["blocks"])


def test_a_429_is_waited_out_then_published(client, alice_slack, acme_records, worker, fake_slack):
    fake_slack.queue("views.publish", retry_after=1)

    home_opened(client, "UALICE01")
    worker.drain()

    first, second = fake_slack.api_calls("views.publish")
    assert second.at - first.at >= 0.9  # Slack's Retry-After, honoured
    assert not worker.broker.dead_letters


def test_a_refusal_is_not_tried_again(client, alice_slack, acme_records, worker, fake_slack):
    fake_slack.queue("views.publish", error="not_enabled")  # the app has no Home tab enabled

    home_opened(client, "UALICE01")
    worker.drain()

    assert len(fake_slack.api_calls("views.publish")) == 1
    assert not worker.broker.dead_letters


def test_a_workspace_that_is_not_installed_publishes_nothing(
    client, fake_slack, acme_install, worker
):
    response = home_opened(client, "UALICE01", team_id="TUNKNOWN1")
    assert response.status_code == 200
    assert worker.queued() == 0 and fake_slack.requests == []


def test_charlie_in_globex_sees_globex_only(
    client, fake_slack, globex_install, globex, charlie, acme_records, worker
):
    fake_slack.users["UCHARLIE"] = charlie.email
    factories.DealFactory(company=globex, title="Globex deal", assigned_to=charlie)

    home_opened(client, "UCHARLIE", team_id=GLOBEX_TEAM)
    worker.drain()

    [body] = published(fake_slack)
    shown = all_text(body["view"]["blocks"])
    assert "Globex deal" in shown
    assert "Initech" not in shown and "Jane Doe" not in shown


def test_call_back_from_home_places_the_call_and_answers_by_dm(
    client, alice_slack, alice, acme_records, worker, fake_slack, fake_twilio, twilio_settings
):
    missed = acme_records["missed"]

    response = home_click(client, "UALICE01", f"call_pick:call:{missed.pk}", f"call:{missed.pk}")
    assert response.status_code == 200
    worker.drain()

    call = Call.objects.filter(direction=CallDirection.OUTBOUND, to_number="+14155550177").get()
    assert call.user == alice
    texts = [seen.body["text"] for seen in fake_slack.api_calls("chat.postMessage")]
    assert all(
        seen.body["channel"] == "UALICE01" for seen in fake_slack.api_calls("chat.postMessage")
    )
    assert "Calling +14155550177 from +14155550100…" in texts
    assert any(text.startswith(f"Call #{call.id} placed") for text in texts)


def test_a_double_click_on_home_rings_once(
    client, alice_slack, acme_records, worker, fake_slack, fake_twilio, twilio_settings
):
    missed = acme_records["missed"]
    for _ in range(2):
        home_click(client, "UALICE01", f"call_pick:call:{missed.pk}", f"call:{missed.pk}")
    worker.drain()

    assert len(fake_twilio.requests) == 1
    texts = [seen.body["text"] for seen in fake_slack.api_calls("chat.postMessage")]
    assert any("not placed twice" in text for text in texts)
