"""An unexpected error while answering Slack is told to the person in words, never a bare 500."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from hub.bots import app as bots_app
from hub.bots import calls
from hub.bots.calls import PICK_ACTION
from hub.domain.calls.models import Call
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

HUB_ERROR = "The hub ran into an error; nothing was called. Try again shortly."


def broken(**kwargs):
    raise DatabaseError("the database went away")


def test_an_error_in_the_command_is_answered_in_words(
    alice_slack, alice_number, worker, monkeypatch
):
    monkeypatch.setattr(calls, "call_target_search", broken)

    response = alice_slack.command("jane")

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": HUB_ERROR}
    assert worker.queued() == 0


def test_an_error_before_any_listener_is_answered_in_words(
    alice_slack, alice_number, worker, monkeypatch
):
    monkeypatch.setattr(bots_app, "slack_installation_for_team", lambda team_id: broken())

    response = alice_slack.command("+14155550123")

    assert response.status_code == 200
    assert response.json() == {"response_type": "ephemeral", "text": HUB_ERROR}
    assert worker.queued() == 0


def test_an_error_after_a_click_was_acknowledged_reaches_the_person(
    alice_slack, acme, alice_number, worker, fake_slack, monkeypatch
):
    jane = factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe")
    monkeypatch.setattr(calls, "call_target_get", broken)

    response = alice_slack.click(f"{PICK_ACTION}:lead:{jane.pk}", f"lead:{jane.pk}")

    assert response.status_code == 200
    [reply] = fake_slack.wait_for(lambda: fake_slack.responses(alice_slack.last_key))
    assert reply["text"] == HUB_ERROR
    assert worker.queued() == 0 and not Call.objects.exists()
