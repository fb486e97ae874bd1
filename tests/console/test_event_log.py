"""The event log page: readable lines, scoped to what the viewer may see, filtered, paged."""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.domain.authentication.services import company_user_add
from hub.domain.calls.services import call_status_set
from hub.domain.crm.models import DealStage
from hub.domain.crm.services import deal_create, deal_mark_won, deal_move, lead_create
from hub.domain.emails.services import email_store
from hub.domain.events.log_lines import PAGE_SIZE
from hub.domain.events.models import Audience, Event
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.console.helpers import make_call
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db

LINE = re.compile(r'<li class="event" data-event-id="(\d+)".*?</li>', re.S)


def lines(client, url: str = "/console/events/") -> dict[int, str]:
    """The page's lines by event id, as text (tags dropped, spaces folded), newest first."""
    logged_events()  # on PostgreSQL: move the committed events into the log first
    response = client.get(url)
    assert response.status_code == 200
    return {
        int(m.group(1)): " ".join(unescape(re.sub(r"<[^>]+>", " ", m.group(0))).split())
        for m in LINE.finditer(response.content.decode())
    }


def line_of(client, url: str = "/console/events/", **event) -> str:
    found = lines(client, url)
    wanted = logged_events().filter(**event).order_by("-id").first()
    assert wanted is not None, f"no event {event}"
    assert wanted.id in found, f"event {event} is not on the page"
    return found[wanted.id]


def make_deal(company, by, title: str, **fields):
    return deal_create(
        company=company,
        created_by=by,
        title=title,
        value=Decimal("500.00"),
        contact_name="Ann",
        contact_email="ann@client.test",
        company_name="Client",
        **fields,
    )


def superuser():
    return factories.UserFactory(is_staff=True, is_superuser=True)


# --- wording ---------------------------------------------------------------------------------


def test_a_call_line_names_the_call_its_numbers_status_and_member(alice_client, acme, alice):
    call = make_call(acme, "CAwords", user=alice)
    call_status_set(call=call, status="InProgress")
    text = line_of(alice_client, type="call.updated")
    name = alice.get_full_name()
    assert f"Call #{call.id} +14155550100 → +14155550111 · In progress · {name}" in text
    assert "call.updated" in text
    assert "InProgress" not in text.split("payload")[0]  # the label, not the raw status


def test_a_deal_line_names_the_deal_its_stage_and_what_changed(alice_client, acme, alice):
    deal = make_deal(acme, alice, "Acme renewal", assigned_to=alice)
    created = line_of(alice_client, type="deal.created")
    first = deal.stage.name
    assert f"Deal “Acme renewal” · {first} · Open · {alice.get_full_name()}" in created
    assert "changed:" not in created

    later = DealStage.objects.filter(pipeline=deal.pipeline).order_by("order")[2]
    deal_move(deal=deal, stage=later, by=alice)
    moved = line_of(alice_client, type="deal.updated")
    assert f"Deal “Acme renewal” · {later.name} · Open" in moved
    assert "changed: stage" in moved

    deal_mark_won(deal=deal, by=alice)
    won = line_of(alice_client, type="deal.updated")
    assert "· Won ·" in won
    assert "changed: stage, status" in won or "changed: status" in won


def test_a_lead_line_names_the_lead(alice_client, acme, alice):
    lead_create(
        company=acme,
        created_by=alice,
        first_name="Ana",
        last_name="Trujillo",
        email="ana@prospect.test",
        lead_source="website",
    )
    assert "Lead Ana Trujillo · New" in line_of(alice_client, type="lead.created")


def test_a_notification_line_names_whom_it_is_for_and_its_title(alice_client, alice):
    notification_create(user=alice, title="Deal won", message="m")
    text = line_of(alice_client, type="notification.created")
    assert f"Notification to {alice.get_full_name()}: Deal won" in text


def test_an_email_line_names_its_subject_and_sender(alice_client, acme, alice):
    account = factories.EmailAccountFactory(company=acme, user=alice)
    email_store(
        account=account,
        message_id="<q@mail.test>",
        from_email="ann@client.test",
        from_name="Ann",
        subject="Re: quote",
        body_text="Hi",
        direction="inbound",
    )
    text = line_of(alice_client, type="email.created")
    assert "E-mail “Re: quote” from Ann <ann@client.test>" in text


def test_opens_clicks_and_unknown_types_read_as_words(alice_client, acme, alice):
    mail = {"id": 9, "subject": "Your quote", "to_emails": ["ann@client.test"]}
    base = {"company_id": acme.id, "audience": Audience.USER, "user_id": alice.id}
    Event.objects.create(
        **base, topic="emails", type="email.opened", payload=mail | {"opens_count": 2}
    )
    Event.objects.create(
        **base,
        topic="emails",
        type="email.clicked",
        payload=mail | {"clicks_count": 1, "link_url": "https://acme.test/pricing"},
    )
    Event.objects.create(**base, topic="misc", type="thing.happened", payload={"id": 4})
    found = lines(alice_client)
    texts = list(found.values())
    assert any("E-mail “Your quote” to ann@client.test · opened 2×" in t for t in texts)
    assert any("clicked https://acme.test/pricing (1×)" in t for t in texts)
    assert any("thing.happened #4" in t for t in texts)


def test_the_payload_is_pretty_json_in_details(alice_client, acme):
    make_call(acme, "CApretty")
    logged_events()
    html = alice_client.get("/console/events/").content.decode()
    assert '<details class="event-payload"><summary>payload</summary><pre>{\n' in html
    assert "&quot;twilio_call_sid&quot;: &quot;CApretty&quot;" in html
    assert '<time datetime="' in html


# --- who sees what -------------------------------------------------------------------------


def test_a_member_never_sees_another_companys_events_even_asking_for_it(
    alice_client, acme, globex, alice, charlie
):
    mine = make_call(acme, "CAmine")
    theirs = make_call(globex, "CAtheirs")
    notification_create(user=charlie, title="for charlie", message="m")
    for url in ("/console/events/", f"/console/events/?company={globex.id}"):
        text = " ".join(lines(alice_client, url).values())
        assert f"Call #{mine.id} " in text
        assert f"Call #{theirs.id} " not in text
        assert "for charlie" not in text
    html = alice_client.get(f"/console/events/?company={globex.id}").content.decode()
    assert "showing all of your companies" in html
    # One company: no company column, no filter.
    assert 'class="event-company"' not in html
    assert "data-company-filter" not in html
    # The live page's question for what is new is scoped the same way.
    after = lines(alice_client, f"/console/events/?company={globex.id}&after=0")
    assert all(f"Call #{theirs.id} " not in t for t in after.values())


def test_a_superuser_sees_every_company_named_and_may_pick_one(client, acme, globex, alice):
    acme_call = make_call(acme, "CAacme")
    globex_call = make_call(globex, "CAglobex")
    notification_create(user=alice, title="alice's own", message="m")
    root = superuser()
    notification_create(user=root, title="root's own", message="m")
    client.force_login(root)

    text = " ".join(lines(client).values())
    assert f"Acme call.created Call #{acme_call.id} " in text
    assert f"Globex call.created Call #{globex_call.id} " in text
    assert "root's own" in text  # the viewer's own events of no company, with no filter
    assert "alice's own" not in text  # never someone else's user events
    html = client.get("/console/events/").content.decode()
    assert "data-company-filter" in html

    only_globex = " ".join(lines(client, f"/console/events/?company={globex.id}").values())
    assert f"Call #{globex_call.id} " in only_globex
    assert f"Call #{acme_call.id} " not in only_globex
    assert "root's own" not in only_globex


def test_deal_events_reach_deal_managers_and_the_assignee_only(client, acme, alice):
    staff = factories.UserFactory(is_staff=True)
    company_user_add(company=acme, user=staff, role="support_staff")
    make_deal(acme, alice, "Managers only")
    client.force_login(staff)
    assert "Managers only" not in " ".join(lines(client).values())


# --- filters and paging --------------------------------------------------------------------


def test_the_type_filter_shows_one_type_or_one_topic(alice_client, acme, alice):
    call = make_call(acme, "CAtype")
    call_status_set(call=call, status="Ringing")
    notification_create(user=alice, title="a note", message="m")

    def types(url: str) -> set[str]:
        found = lines(alice_client, url).keys()
        return set(Event.objects.filter(id__in=found).values_list("type", flat=True))

    assert types("/console/events/?type=call.updated") == {"call.updated"}
    assert types("/console/events/?type=calls") == {"call.created", "call.updated"}
    assert types("/console/events/") == {"call.created", "call.updated", "notification.created"}
    html = alice_client.get("/console/events/?type=call.updated").content.decode()
    assert '<option value="call.updated" selected>' in html
    refused = alice_client.get("/console/events/?type=nonsense").content.decode()
    assert "There is no event type “nonsense”" in refused


def test_older_pages_go_back_a_hundred_at_a_time(alice_client, acme, alice):
    base = {"company_id": acme.id, "audience": Audience.COMPANY, "topic": "calls"}
    made = [
        Event.objects.create(**base, type="call.created", payload={"id": n}).id
        for n in range(PAGE_SIZE + 5)
    ]
    first = list(lines(alice_client).keys())
    assert first == sorted(made, reverse=True)[:PAGE_SIZE]
    html = alice_client.get("/console/events/").content.decode()
    link = re.search(r'id="older-events" href="\?([^"]+)"', html)
    assert link is not None
    assert unescape(link.group(1)) == f"before={first[-1]}"
    second = list(lines(alice_client, f"/console/events/?before={first[-1]}").keys())
    assert second == sorted(made, reverse=True)[PAGE_SIZE:]
    assert (
        'id="older-events"'
        not in alice_client.get(f"/console/events/?before={first[-1]}").content.decode()
    )


def test_after_answers_the_lines_after_an_id_oldest_first(alice_client, acme):
    base = {"company_id": acme.id, "audience": Audience.COMPANY, "topic": "calls"}
    ids = [
        Event.objects.create(**base, type="call.created", payload={"id": n}).id for n in range(3)
    ]
    response = alice_client.get(f"/console/events/?after={ids[0]}")
    html = response.content.decode()
    assert "<html" not in html
    assert [int(i) for i in re.findall(r'data-event-id="(\d+)"', html)] == ids[1:]


def test_a_page_reads_names_in_bulk(client, django_assert_max_num_queries, acme, globex):
    root = superuser()
    client.force_login(root)
    make_call(acme, "CAalone", user=factories.CompanyUserFactory(company=acme).user)
    logged_events()
    with CaptureQueriesContext(connection) as one_line:
        client.get("/console/events/")

    for company in (acme, globex):
        member = factories.CompanyUserFactory(company=company).user
        for n in range(5):
            call = make_call(company, f"CAbulk{company.id}-{n}", user=member)
            call_status_set(call=call, status="Ringing")
            make_deal(company, company.created_by, f"Deal {n}", assigned_to=member)
            notification_create(user=member, title=f"note {n}", message="m")
    logged_events()
    # The session, the user, the viewer, the cursor, the companies, the events, the names of
    # people and of stages: a fixed number, whatever the page holds (and the nav's badge).
    with django_assert_max_num_queries(10) as many_lines:
        response = client.get("/console/events/")
    assert response.content.decode().count('class="event"') >= 30
    stage_query = 1  # the one-call page names no stage
    assert len(many_lines.captured_queries) == len(one_line.captured_queries) + stage_query
