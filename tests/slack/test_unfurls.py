"""Unfurls: links to the console's (or the CRM's) deal, lead and call pages unfold into their
cards, in one ``chat.unfurl`` per message, for members of that company only."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from tests import factories
from tests.slack.conftest import GLOBEX_TEAM
from tests.slack.events_fixtures import all_text, call_row, link_shared

pytestmark = pytest.mark.django_db(transaction=True)

HUB = "https://hub.example.test"


def admin_url(kind: str, record_id: int) -> str:
    path = {"deal": "crm/deal", "lead": "crm/lead", "call": "calls/call"}[kind]
    return f"{HUB}/admin/{path}/{record_id}/change/"


@pytest.fixture
def records(acme, alice, alice_number):
    return {
        "deal": factories.DealFactory(
            company=acme, title="Initech renewal", value=Decimal("12500")
        ),
        "lead": factories.LeadFactory(
            company=acme, first_name="Jane", last_name="Doe", company_name="Initech"
        ),
        "call": call_row(company=acme, number=alice_number, other="+14155550177"),
    }


def unfurls(fake_slack) -> list[dict]:
    return [seen.body for seen in fake_slack.api_calls("chat.unfurl")]


def test_a_deal_link_unfolds_into_its_card(client, alice_slack, records, worker, fake_slack):
    url = admin_url("deal", records["deal"].pk)

    started = time.monotonic()
    assert link_shared(client, "UALICE01", [url]).status_code == 200
    assert time.monotonic() - started < 3 and unfurls(fake_slack) == []
    worker.drain()

    [body] = unfurls(fake_slack)
    assert (body["channel"], body["ts"]) == ("C0SALES01", "1700000000.000500")
    assert list(body["unfurls"]) == [url]
    shown = all_text(body["unfurls"][url]["blocks"])
    assert "Initech renewal" in shown and "$12,500" in shown
    assert '"type": "actions"' not in shown  # a card in a channel has no buttons


def test_all_the_links_of_a_message_in_one_unfurl(client, alice_slack, records, worker, fake_slack):
    urls = [
        admin_url("deal", records["deal"].pk),
        f"{HUB}/leads/{records['lead'].pk}/",  # the CRM's own page of a lead
        admin_url("call", records["call"].pk),
        f"{HUB}/about/",  # no record's page
    ]

    link_shared(client, "UALICE01", urls)
    worker.drain()

    [body] = unfurls(fake_slack)
    assert list(body["unfurls"]) == urls[:3]
    assert "Jane Doe" in all_text(body["unfurls"][urls[1]]["blocks"])
    assert "+14155550177" in all_text(body["unfurls"][urls[2]]["blocks"])


def test_another_companys_records_are_not_unfurled(
    client, alice_slack, records, globex, worker, fake_slack
):
    theirs = {
        "deal": factories.DealFactory(company=globex, title="Globex secret"),
        "lead": factories.LeadFactory(company=globex, first_name="Secret"),
        "call": call_row(company=globex, other="+14155550666"),
    }
    urls = [admin_url(kind, row.pk) for kind, row in theirs.items()]

    link_shared(client, "UALICE01", urls)
    worker.drain()

    assert unfurls(fake_slack) == []
    # Mixed with one of Acme's, only Acme's unfolds.
    ours = admin_url("deal", records["deal"].pk)
    link_shared(client, "UALICE01", [*urls, ours])
    worker.drain()
    [body] = unfurls(fake_slack)
    assert list(body["unfurls"]) == [ours]
    assert "Globex" not in all_text(body)


def test_a_globex_member_does_not_unfurl_acmes_links(
    client, fake_slack, globex_install, charlie, records, worker
):
    fake_slack.users["UCHARLIE"] = charlie.email

    link_shared(
        client,
        "UCHARLIE",
        [admin_url(kind, row.pk) for kind, row in records.items()],
        team_id=GLOBEX_TEAM,
    )
    worker.drain()

    assert unfurls(fake_slack) == []


def test_a_slack_user_who_is_not_a_member_unfurls_nothing(
    client, fake_slack, acme_install, records, worker
):
    fake_slack.users["USTRANGER"] = "stranger@elsewhere.test"

    link_shared(client, "USTRANGER", [admin_url("deal", records["deal"].pk)])
    worker.drain()

    assert unfurls(fake_slack) == []
    assert not worker.broker.dead_letters


def test_a_member_sees_only_the_deals_and_leads_they_may_see(
    client, fake_slack, acme_install, acme, records, worker
):
    member = factories.CompanyUserFactory(company=acme, can_manage_deals=False).user
    fake_slack.users["UMEMBER1"] = member.email
    theirs = factories.DealFactory(company=acme, title="Assigned to them", assigned_to=member)
    urls = [admin_url("deal", records["deal"].pk), admin_url("lead", records["lead"].pk)]
    urls.append(admin_url("deal", theirs.pk))

    link_shared(client, "UMEMBER1", urls)
    worker.drain()

    [body] = unfurls(fake_slack)
    assert list(body["unfurls"]) == [urls[2]]


def test_a_link_in_the_message_box_is_unfurled_by_its_unfurl_id(
    client, alice_slack, records, worker, fake_slack
):
    url = admin_url("deal", records["deal"].pk)

    link_shared(
        client,
        "UALICE01",
        [url],
        channel="COMPOSER",
        message_ts="UALICE01-909b5454-75f8-4ac4-b325-1b40e230bbd8",
        source="composer",
        unfurl_id="Uxxxx.composer.0001",
    )
    worker.drain()

    [body] = unfurls(fake_slack)
    assert (body["source"], body["unfurl_id"]) == ("composer", "Uxxxx.composer.0001")
    assert "channel" not in body and "ts" not in body
    assert list(body["unfurls"]) == [url]


def test_a_retried_delivery_unfurls_once(client, alice_slack, records, worker, fake_slack):
    url = admin_url("deal", records["deal"].pk)

    link_shared(client, "UALICE01", [url], event_id="EvLINK0001")
    link_shared(client, "UALICE01", [url], event_id="EvLINK0001", retry_num=1)
    link_shared(client, "UALICE01", [url], event_id="EvLINK0001", retry_num=2)
    worker.drain()

    assert len(unfurls(fake_slack)) == 1


def test_a_429_is_waited_out(client, alice_slack, records, worker, fake_slack):
    fake_slack.queue("chat.unfurl", retry_after=1)

    link_shared(client, "UALICE01", [admin_url("deal", records["deal"].pk)])
    worker.drain()

    first, second = fake_slack.api_calls("chat.unfurl")
    assert second.at - first.at >= 0.9
    assert not worker.broker.dead_letters


@pytest.mark.parametrize(
    "url",
    [
        f"{HUB}/admin/crm/deal/99999999999999999/change/",
        f"{HUB}/admin/crm/deal/0/change/",
        f"{HUB}/deals/%00/",
        f"{HUB}/admin/calls/call/99999999999999999/change/",
    ],
)
def test_odd_links_unfurl_nothing_and_break_nothing(
    client, alice_slack, records, worker, fake_slack, url
):
    link_shared(client, "UALICE01", [url])
    worker.drain()
    assert unfurls(fake_slack) == []
