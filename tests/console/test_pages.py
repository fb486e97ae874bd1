"""The live console pages: staff only, and each shows only what its user may see."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db.models import Max

from hub.domain.authentication.models import CompanyUser
from hub.domain.authentication.services import company_user_add
from hub.domain.calls.services import call_status_set
from hub.domain.crm.services import deal_create
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.console.helpers import json_data, make_call
from tests.eventlog import logged_events

pytestmark = pytest.mark.django_db

PAGES = ["/console/calls/", "/console/notifications/", "/console/events/"]


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/?next=")


@pytest.mark.parametrize("url", PAGES)
def test_users_who_are_not_staff_are_sent_to_the_admin_login(client, alice, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/admin/login/")


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_for_staff_with_the_client_and_a_cursor(alice_client, url):
    response = alice_client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script src="/static/hub/hub.js"></script>' in html
    assert '<script src="/static/hub/console/console.js"></script>' in html
    assert isinstance(json_data(response, "hub-cursor"), int)


def test_console_index_redirects_to_the_call_board(alice_client):
    response = alice_client.get("/console/")
    assert response.status_code == 302
    assert response.url == "/console/calls/"


def test_the_cursor_is_the_newest_event_when_no_relay_has_run(alice_client, acme):
    make_call(acme, "CAcursor")
    newest = logged_events().aggregate(newest=Max("id"))["newest"]
    assert json_data(alice_client.get("/console/calls/"), "hub-cursor") == newest


STATIC = ["hub/hub.js", "hub/console/console.js", "hub/console/console.css"]


@pytest.mark.parametrize("path", STATIC)
def test_static_files_are_served(client, path):
    response = client.get(f"/static/{path}")
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body


def test_call_board_shows_the_calls_of_the_users_company_only(
    client, acme, globex, staff_alice, staff_charlie
):
    ours = make_call(acme, "CAacme")
    call_status_set(call=ours, status="Ringing")
    theirs = make_call(globex, "CAglobex")

    client.force_login(staff_alice)
    html = client.get("/console/calls/").content.decode()
    assert f'data-call-id="{ours.id}"' in html
    assert 'data-status="Ringing"' in html
    assert f'data-call-id="{theirs.id}"' not in html

    client.force_login(staff_charlie)
    html = client.get("/console/calls/").content.decode()
    assert f'data-call-id="{theirs.id}"' in html
    assert f'data-call-id="{ours.id}"' not in html


def test_call_board_names_only_the_users_colleagues(client, staff_alice, bob, charlie):
    client.force_login(staff_alice)
    members = json_data(client.get("/console/calls/"), "hub-members")
    assert set(members) == {str(staff_alice.id), str(bob.id)}
    assert charlie.get_full_name() not in members.values()


def test_call_board_of_an_inactive_member_is_empty(client, acme, bob):
    make_call(acme, "CAinactive")
    CompanyUser.objects.filter(user=bob, company=acme).update(is_active=False)
    bob.is_staff = True
    bob.save(update_fields=["is_staff"])
    client.force_login(bob)
    response = client.get("/console/calls/")
    assert response.status_code == 200
    assert "data-call-id" not in response.content.decode()


def test_notifications_page_lists_only_the_users_own(client, staff_alice, staff_bob, charlie):
    mine = notification_create(user=staff_alice, title="For alice", message="m")
    read = notification_create(user=staff_alice, title="Old news", message="m")
    read.is_read = True
    read.save(update_fields=["is_read"])
    colleague = notification_create(user=staff_bob, title="For bob", message="m")
    outsider = notification_create(user=charlie, title="For charlie", message="m")

    client.force_login(staff_alice)
    response = client.get("/console/notifications/")
    html = response.content.decode()
    assert f'data-notification-id="{mine.id}" data-read="false"' in html
    assert f'data-notification-id="{read.id}" data-read="true"' in html
    for other in (colleague, outsider):
        assert str(other.id) not in html
        assert other.title not in html
    assert json_data(response, "hub-unread-ids") == [str(mine.id)]
    assert '<span class="badge" id="unread-count" data-count="1">1</span>' in html


def test_event_log_shows_only_the_events_the_user_may_see(
    client, acme, globex, staff_alice, staff_bob, charlie
):
    acme_call = make_call(acme, "CAlog-acme")
    globex_call = make_call(globex, "CAlog-globex")
    notification_create(user=staff_alice, title="alice only", message="m")
    notification_create(user=staff_bob, title="bob only", message="m")
    notification_create(user=charlie, title="charlie only", message="m")

    def shown(user) -> set[int]:
        client.force_login(user)
        html = client.get("/console/events/").content.decode()
        return {int(i) for i in re.findall(r'data-event-id="(\d+)"', html)}

    def event_of(**filters) -> int:
        return logged_events().get(**filters).id

    acme_event = event_of(type="call.created", payload__id=acme_call.id)
    globex_event = event_of(type="call.created", payload__id=globex_call.id)
    alice_note = event_of(type="notification.created", user_id=staff_alice.id)
    bob_note = event_of(type="notification.created", user_id=staff_bob.id)
    charlie_note = event_of(type="notification.created", user_id=charlie.id)

    assert shown(staff_alice) >= {acme_event, alice_note}
    assert not shown(staff_alice) & {globex_event, bob_note, charlie_note}
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    assert shown(charlie) >= {globex_event, charlie_note}
    assert not shown(charlie) & {acme_event, alice_note, bob_note}


def test_event_log_shows_deal_events_to_deal_managers_and_the_assignee_only(
    client, acme, staff_alice
):
    staff = factories.UserFactory(is_staff=True)
    company_user_add(company=acme, user=staff, role="support_staff")
    assignee = factories.UserFactory(is_staff=True)
    company_user_add(company=acme, user=assignee, role="support_staff")
    deal_create(
        company=acme,
        created_by=staff_alice,
        title="Big deal",
        value=Decimal("10.00"),
        contact_name="Ann",
        contact_email="ann@client.test",
        company_name="Client",
        assigned_to=assignee,
    )
    deal_event = logged_events().get(type="deal.created").id

    def shown(user) -> bool:
        client.force_login(user)
        return f'data-event-id="{deal_event}"' in client.get("/console/events/").content.decode()

    assert shown(staff_alice)  # the CEO manages deals
    assert shown(assignee)
    assert not shown(staff)


def test_the_admin_index_links_the_live_pages(alice_client):
    response = alice_client.get("/admin/")
    assert response.status_code == 200
    for path in ("/console/calls/", "/console/notifications/", "/console/events/"):
        assert f'href="{path}"' in response.content.decode()
