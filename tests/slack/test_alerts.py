"""Alerts routed from the event log: what each change makes, to where, once, in order, and
only to the workspace of the company it happened in."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from prometheus_client import REGISTRY

from hub.domain.calls.models import CallStatus, Disposition
from hub.domain.crm.services import (
    deal_assign,
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move,
    lead_assign,
)
from hub.domain.events.models import Event, RelayCursor
from hub.integrations.slack.alerts import CURSOR, slack_alerts_collect, slack_alerts_configure
from hub.integrations.slack.models import AlertKind, SlackAlert
from tests import factories
from tests.eventlog import event_log_flush
from tests.slack.alerts_fixtures import (  # noqa: F401 (fixtures)
    ACME_CHANNEL,
    GLOBEX_CHANNEL,
    acme_alerts_fixture,
    alert_deal_fixture,
    alerts,
    collect,
    deliver,
    posts,
    stage,
)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the triggers and relay of PostgreSQL"
    ),
]


def test_a_deal_moved_by_the_service_is_posted_once_in_the_alerts_channel(
    acme_alerts, alert_deal, fake_slack
):
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))

    assert collect() == 1
    deliver(acme_alerts)

    [(channel, text)] = posts(fake_slack)
    assert channel == ACME_CHANNEL
    assert "Deal moved" in text and "Acme renewal" in text and "*Proposal*" in text
    assert "$12,500" in text
    assert f"/admin/crm/deal/{alert_deal.pk}/change/" in text
    # Collecting and delivering again adds nothing: each event is alerted once.
    assert collect() == 0
    deliver(acme_alerts)
    assert len(posts(fake_slack)) == 1
    assert alerts() == [(AlertKind.DEAL_MOVED, f"channel:{ACME_CHANNEL}", "sent")]


def test_a_deal_moved_by_plain_sql_is_posted_once_too(acme_alerts, alert_deal, fake_slack):
    # The CRM app, or a psql session: the trigger logs the change like the service's.
    negotiation = stage(alert_deal, "Negotiation")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE crm_deal SET stage_id = %s WHERE id = %s", [negotiation.pk, alert_deal.pk]
        )

    collect()
    deliver(acme_alerts)

    [(channel, text)] = posts(fake_slack)
    assert channel == ACME_CHANNEL
    assert "Acme renewal" in text and "*Negotiation*" in text
    collect()
    deliver(acme_alerts)
    assert len(posts(fake_slack)) == 1


def test_a_second_look_at_the_same_events_adds_no_alert(acme_alerts, alert_deal, fake_slack):
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))
    collect()
    # As if the cursor had not been saved (a crash after the insert): the rows are there once.
    RelayCursor.objects.filter(name=CURSOR).update(last_event_id=0)

    collect()

    assert SlackAlert.objects.count() == 1


def test_two_moves_of_a_deal_are_posted_in_their_order(acme_alerts, alert_deal, fake_slack):
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Qualification"))
    event_log_flush()
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))
    event_log_flush()
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Negotiation"))

    collect()
    deliver(acme_alerts)

    texts = [text for _, text in posts(fake_slack)]
    assert [t.split("is now in ")[1].split("*")[1] for t in texts] == [
        "Qualification",
        "Proposal",
        "Negotiation",
    ]


def test_won_and_lost_are_posted_as_such_not_as_moves(
    acme_alerts, alert_deal, acme, alice, fake_slack
):
    other = deal_create(
        company=acme,
        created_by=alice,
        title="Globo upgrade",
        value=Decimal("990.50"),
        currency="EUR",
        contact_name="Kim",
        contact_email="kim@client.test",
        company_name="Globo",
    )
    deal_mark_won(deal=alert_deal)  # moves it to the won stage as well
    deal_mark_lost(deal=other, reason="Went with <!channel> a competitor")

    collect()
    deliver(acme_alerts)

    [won, lost] = [text for _, text in posts(fake_slack)]
    assert won.startswith(":trophy: Deal won:") and "Acme renewal" in won and "$12,500" in won
    assert lost.startswith(":x: Deal lost:") and "€990.50" in lost
    # The CRM's text is escaped: no @channel from a lost reason.
    assert "Reason: Went with &lt;!channel&gt; a competitor" in lost
    assert [kind for kind, _, _ in alerts()] == [AlertKind.DEAL_WON, AlertKind.DEAL_LOST]


def test_the_first_collect_alerts_nothing_of_the_history(acme_install, acme, alice, fake_slack):
    slack_alerts_configure(installation=acme_install, channel_id=ACME_CHANNEL)
    deal = factories.DealFactory(company=acme, title="Old news")
    deal_move(deal=deal, stage=stage(deal, "Proposal"))
    event_log_flush()
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first()

    assert slack_alerts_collect() == 0

    assert RelayCursor.objects.get(name=CURSOR).last_event_id == newest
    assert not SlackAlert.objects.exists()


def test_another_companys_event_never_reaches_this_workspace(
    acme_alerts, alert_deal, globex, charlie, globex_install, fake_slack
):
    slack_alerts_configure(installation=globex_install, channel_id=GLOBEX_CHANNEL)
    globex_deal = factories.DealFactory(company=globex, title="Globex secret", assigned_to=charlie)
    deal_move(deal=globex_deal, stage=stage(globex_deal, "Proposal"))

    collect()
    deliver(acme_alerts)

    assert posts(fake_slack) == []
    assert not SlackAlert.objects.filter(installation=acme_alerts).exists()
    deliver(globex_install)
    [(channel, text)] = posts(fake_slack)
    assert channel == GLOBEX_CHANNEL and "Globex secret" in text
    assert {seen.token for seen in fake_slack.api_calls("chat.postMessage")} == {"xoxb-globex-0001"}


def test_switches_off_mean_no_alerts(acme_alerts, alert_deal, bob, fake_slack):
    slack_alerts_configure(
        installation=acme_alerts,
        kinds_off=["deal_won", "deal_lost", "deal_moved", "assigned", "missed_call"],
    )
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))
    deal_assign(deal=alert_deal, assignee=bob)
    deal_mark_won(deal=alert_deal)

    assert collect() == 0
    deliver(acme_alerts)

    assert fake_slack.requests == []


def test_one_kind_off_leaves_the_others_on(acme_alerts, alert_deal, bob, fake_slack):
    slack_alerts_configure(installation=acme_alerts, kinds_off=["deal_moved"])
    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))
    deal_assign(deal=alert_deal, assignee=bob)

    collect()

    assert alerts() == [(AlertKind.DEAL_ASSIGNED, f"user:{bob.pk}", "pending")]


def test_without_a_channel_only_dms_are_made(acme_install, acme, alice, bob, fake_slack):
    collect()
    deal = factories.DealFactory(company=acme)
    deal_move(deal=deal, stage=stage(deal, "Proposal"))
    deal_assign(deal=deal, assignee=bob)

    collect()

    assert alerts() == [(AlertKind.DEAL_ASSIGNED, f"user:{bob.pk}", "pending")]


def test_assignments_of_deals_and_leads_go_to_the_assignee(acme_alerts, acme, alice, bob):
    lead = factories.LeadFactory(company=acme, first_name="Jane", last_name="Doe")
    created = factories.DealFactory(company=acme, title="Born assigned", assigned_to=alice)
    lead_assign(lead=lead, assignee=bob)

    collect()

    assert set(alerts()) == {
        (AlertKind.DEAL_ASSIGNED, f"user:{alice.pk}", "pending"),
        (AlertKind.LEAD_ASSIGNED, f"user:{bob.pk}", "pending"),
    }
    dm = SlackAlert.objects.get(kind=AlertKind.DEAL_ASSIGNED)
    assert (dm.user, dm.channel_id, dm.payload["id"]) == (alice, "", created.pk)


def test_a_former_member_is_not_sent_the_assignment(acme_alerts, acme, bob):
    deal = factories.DealFactory(company=acme)
    membership = bob.memberships.get(company=acme)
    membership.is_active = False
    membership.save(update_fields=["is_active"])
    # Plain SQL may assign anyone: the alert goes only to an active member.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE crm_deal SET assigned_to_id = %s WHERE id = %s", [bob.pk, deal.pk])

    collect()

    assert alerts() == []


def test_an_inbound_call_not_taken_is_a_missed_call_for_the_numbers_owner(
    acme_alerts, acme, alice, alice_number
):
    missed = factories.CallFactory(
        company=acme, phone_number=alice_number, status=CallStatus.RINGING
    )
    outbound = factories.CallFactory(
        company=acme, phone_number=alice_number, direction="Outbound", status=CallStatus.RINGING
    )
    taken = factories.CallFactory(
        company=acme, phone_number=alice_number, status=CallStatus.IN_PROGRESS
    )
    voicemail = factories.CallFactory(
        company=acme, phone_number=alice_number, status=CallStatus.IN_PROGRESS
    )
    for call, status in (
        (missed, CallStatus.NO_ANSWER),
        (outbound, CallStatus.NO_ANSWER),
        (taken, CallStatus.COMPLETED),
    ):
        call.status = status
        call.save(update_fields=["status"])
    voicemail.disposition = Disposition.VOICEMAIL
    voicemail.status = CallStatus.COMPLETED
    voicemail.save(update_fields=["disposition", "status"])

    collect()

    assert [(a.kind, a.user, a.payload["id"]) for a in SlackAlert.objects.order_by("pk")] == [
        (AlertKind.MISSED_CALL, alice, missed.pk),
        (AlertKind.VOICEMAIL, alice, voicemail.pk),
    ]


def test_odd_payloads_are_routed_to_nothing_and_never_stop_the_collector(acme_alerts, acme, alice):
    odd = [
        {"changed": ["stage_id"], "status": "open", "stage_id": "'; DROP TABLE crm_deal; --"},
        {"changed": "stage_id", "assigned_to_id": 10**30},
        {"changed": ["assigned_to_id"], "assigned_to_id": True},
        {"changed": ["assigned_to_id"], "assigned_to_id": "99999999999999999999999"},
        ["not", "a", "dict"],
    ]
    for payload in odd:
        Event.objects.create(
            company_id=acme.pk,
            audience="company",
            topic="deals",
            type="deal.updated",
            payload=payload,
        )
    Event.objects.create(
        company_id=acme.pk,
        audience="company",
        topic="calls",
        type="call.updated",
        payload={"direction": "Inbound", "status": "NoAnswer", "id": "x", "phone_number_id": -1},
    )
    Event.objects.create(
        company_id=acme.pk, audience="company", topic="calls", type="call.updated", payload=[1]
    )
    Event.objects.create(
        company_id=acme.pk,
        audience="company",
        topic="deals",
        type="deal.updated",
        payload={"changed": ["status"], "status": ["won"], "direction": {}},
    )
    Event.objects.create(
        company_id=acme.pk,
        audience="company",
        topic="calls",
        type="call.updated",
        payload={"direction": "Inbound", "status": "Completed", "id": 10**40},
    )

    collect()

    # The first is a move (of an unknown stage); nothing else is anything.
    assert [kind for kind, _, _ in alerts()] == [AlertKind.DEAL_MOVED]
    assert RelayCursor.objects.get(name=CURSOR).last_event_id == Event.objects.latest("id").id


def test_collected_alerts_are_counted(acme_alerts, alert_deal):
    labels = {"kind": "deal_moved", "outcome": "collected"}
    before = REGISTRY.get_sample_value("hub_slack_alerts_total", labels) or 0

    deal_move(deal=alert_deal, stage=stage(alert_deal, "Proposal"))
    collect()

    assert REGISTRY.get_sample_value("hub_slack_alerts_total", labels) == before + 1
