from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hub.domain.crm.models import Deal, DealStage, DealStatus, Pipeline
from hub.domain.crm.services import (
    deal_assign,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move,
)
from hub.domain.events import payloads
from tests import factories


def _create(company, by, **fields) -> Deal:
    defaults = {
        "title": "Anvils for the season",
        "value": Decimal("2500.00"),
        "contact_name": "Wile E.",
        "contact_email": "wile@client.test",
        "company_name": "Coyote Ltd",
    }
    return deal_create(company=company, created_by=by, **(defaults | fields))


def _stage(company, name: str) -> DealStage:
    return DealStage.objects.get(pipeline__company=company, pipeline__is_default=True, name=name)


@pytest.fixture
def renewals(acme, alice):
    """A second Acme pipeline, not the default."""
    pipeline = Pipeline.objects.create(company=acme, name="Renewals", created_by=alice)
    DealStage.objects.create(pipeline=pipeline, name="Due", order=1, probability=60)
    DealStage.objects.create(pipeline=pipeline, name="Renewed", order=2, probability=100)
    return pipeline


@pytest.fixture
def deal(acme, alice):
    return _create(acme, alice)


def test_a_new_deal_starts_in_the_first_stage_of_the_default_pipeline(acme, alice, deal):
    deal.refresh_from_db()

    assert deal.pipeline == acme.pipelines.get(is_default=True)
    assert deal.stage.name == "Prospecting"
    assert deal.probability == 10
    assert deal.status == DealStatus.OPEN
    assert (deal.company, deal.created_by) == (acme, alice)


def test_deal_create_takes_the_probability_of_the_given_stage(acme, alice):
    deal = _create(acme, alice, stage=_stage(acme, "Negotiation"))

    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("Negotiation", 75)


def test_deal_create_in_another_pipeline_uses_its_first_stage(acme, alice, renewals):
    deal = _create(acme, alice, pipeline=renewals)

    deal.refresh_from_db()
    assert (deal.pipeline, deal.stage.name, deal.probability) == (renewals, "Due", 60)


def test_deal_create_refuses_a_stage_of_another_pipeline(acme, alice, renewals):
    with pytest.raises(ValidationError) as excinfo:
        _create(acme, alice, stage=renewals.stages.get(name="Due"))

    assert "stage" in excinfo.value.message_dict
    assert not Deal.objects.exists()


def test_deal_create_refuses_a_pipeline_of_another_company(acme, alice, globex):
    other = globex.pipelines.get(is_default=True)

    with pytest.raises(ValidationError) as excinfo:
        _create(acme, alice, pipeline=other, stage=other.stages.first())

    assert "pipeline" in excinfo.value.message_dict
    assert not Deal.objects.exists()


def test_deal_create_refuses_a_stage_of_another_company(acme, alice, globex):
    with pytest.raises(ValidationError):
        _create(acme, alice, stage=_stage(globex, "Proposal"))

    assert not Deal.objects.exists()


def test_deal_create_refuses_an_outsider_as_assignee(acme, alice, charlie):
    with pytest.raises(ValidationError) as excinfo:
        _create(acme, alice, assigned_to=charlie)

    assert "assigned_to" in excinfo.value.message_dict
    assert not Deal.objects.exists()


def test_deal_create_refuses_a_lead_of_another_company(acme, alice, globex):
    with pytest.raises(ValidationError) as excinfo:
        _create(acme, alice, lead=factories.LeadFactory(company=globex))

    assert "lead" in excinfo.value.message_dict
    assert not Deal.objects.exists()


@pytest.mark.parametrize(
    ("name", "probability"), [("Qualification", 25), ("Proposal", 50), ("Closed Lost", 0)]
)
def test_moving_a_deal_takes_the_new_stages_probability(acme, deal, name, probability):
    deal_move(deal=deal, stage=_stage(acme, name))

    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == (name, probability)


def test_moving_to_a_stage_of_another_pipeline_is_refused(acme, deal, renewals):
    with pytest.raises(ValidationError) as excinfo:
        deal_move(deal=deal, stage=renewals.stages.get(name="Renewed"))

    assert "stage" in excinfo.value.message_dict
    deal.refresh_from_db()
    assert (deal.stage.name, deal.probability) == ("Prospecting", 10)


def test_moving_to_a_stage_of_another_company_is_refused(globex, deal):
    with pytest.raises(ValidationError):
        deal_move(deal=deal, stage=_stage(globex, "Negotiation"))

    deal.refresh_from_db()
    assert deal.stage.pipeline.company_id == deal.company_id
    assert (deal.stage.name, deal.probability) == ("Prospecting", 10)


def test_a_deal_closed_since_it_was_read_is_not_moved(acme, deal):
    stale = Deal.objects.get(pk=deal.pk)  # read, say, by a board before Slack's /deal won
    deal_mark_won(deal=deal)

    with pytest.raises(ValidationError, match="is won: only open deals move"):
        deal_move(deal=stale, stage=_stage(acme, "Proposal"))

    deal.refresh_from_db()
    assert (deal.status, deal.probability) == (DealStatus.WON, 100)


def test_marking_won_sets_status_time_and_full_probability(deal):
    before = timezone.now()

    deal_mark_won(deal=deal)

    deal.refresh_from_db()
    assert deal.status == DealStatus.WON
    assert before <= deal.won_at <= timezone.now()
    assert deal.probability == 100
    assert deal.stage.name == "Closed Won"
    assert deal.actual_close_date == deal.won_at.date()
    assert deal.lost_at is None


def test_marking_lost_sets_status_time_and_reason(deal):
    before = timezone.now()

    deal_mark_lost(deal=deal, reason="Went with Ajax")

    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST
    assert before <= deal.lost_at <= timezone.now()
    assert deal.lost_reason == "Went with Ajax"
    assert deal.probability == 0
    assert deal.stage.name == "Closed Lost"
    assert deal.won_at is None


def test_winning_a_lost_deal_clears_the_loss(deal):
    deal_mark_lost(deal=deal, reason="Budget")

    deal_mark_won(deal=deal)

    deal.refresh_from_db()
    assert deal.status == DealStatus.WON
    assert deal.won_at is not None
    assert (deal.lost_at, deal.lost_reason) == (None, None)


def test_losing_a_won_deal_clears_the_win(deal):
    deal_mark_won(deal=deal)

    deal_mark_lost(deal=deal, reason="Cancelled")

    deal.refresh_from_db()
    assert deal.status == DealStatus.LOST
    assert deal.won_at is None
    assert (deal.lost_reason, deal.probability) == ("Cancelled", 0)


def test_close_date_may_be_given(deal):
    closed_on = timezone.now().date().replace(day=1)

    deal_mark_won(deal=deal, close_date=closed_on)

    deal.refresh_from_db()
    assert deal.actual_close_date == closed_on


def test_deal_assign_to_a_member(bob, deal):
    deal_assign(deal=deal, assignee=bob)

    deal.refresh_from_db()
    assert deal.assigned_to == bob


def test_deal_assign_refuses_an_outsider(charlie, deal):
    with pytest.raises(ValidationError):
        deal_assign(deal=deal, assignee=charlie)

    deal.refresh_from_db()
    assert deal.assigned_to is None


# --- events (appended by the services on SQLite; by triggers on PostgreSQL) ---------------


def test_deal_create_appends_deal_created(acme, alice, bob, events):
    deal = _create(acme, alice, assigned_to=bob)

    event = events.one()
    assert (event.type, event.topic, event.audience) == ("deal.created", "deals", "deal_managers")
    assert (event.company_id, event.user_id) == (acme.id, bob.id)
    assert event.payload == payloads.deal_payload(deal)
    assert "changed" not in event.payload


def test_deal_move_appends_deal_updated_with_what_changed(acme, deal, events):
    deal_move(deal=deal, stage=_stage(acme, "Proposal"))

    event = events.one()
    assert (event.type, event.audience, event.company_id) == (
        "deal.updated",
        "deal_managers",
        acme.id,
    )
    assert event.payload["changed"] == ["stage_id"]
    assert (event.payload["stage_id"], event.payload["probability"]) == (deal.stage_id, 50)


def test_moving_to_the_same_stage_appends_nothing(deal, events):
    deal_move(deal=deal, stage=deal.stage)

    assert events.new() == []


def test_deal_assign_appends_for_the_assignee(acme, bob, deal, events):
    deal_assign(deal=deal, assignee=bob)
    deal_assign(deal=deal, assignee=bob)  # no change, no event

    event = events.one()
    assert (event.type, event.user_id, event.company_id) == ("deal.updated", bob.id, acme.id)
    assert event.payload["changed"] == ["assigned_to_id"]


def test_won_and_lost_append_one_event_each(deal, events):
    deal_mark_won(deal=deal)
    deal_mark_lost(deal=deal, reason="Cancelled")

    won, lost = events.new()
    assert won.payload["changed"] == ["stage_id", "status"]
    assert won.payload["status"] == "won"
    assert lost.payload["changed"] == ["stage_id", "status"]
    assert lost.payload["status"] == "lost"


def test_a_refused_move_appends_nothing(globex, deal, events):
    with pytest.raises(ValidationError):
        deal_move(deal=deal, stage=_stage(globex, "Proposal"))

    assert events.new() == []


def test_the_event_is_published_after_commit(
    acme, alice, events, services_publish, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        _create(acme, alice)

    assert len(callbacks) == 1
    assert len(events.new()) == 1
