"""Every company at a glance: which companies' calls the call board shows, and how it says so.

A superuser sees every company's calls with the company named on each row and a company
filter kept in the URL; so does a member of several companies. A member of one company sees
no Company column and never another tenant's calls, whatever ``?company=`` says.
"""

from __future__ import annotations

import re

import pytest

from hub.domain.authentication.services import company_user_add
from hub.domain.notifications.services import notification_create
from tests import factories
from tests.console.helpers import json_data, make_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(db):
    """A superuser who is a member of no company (as `make run`'s first login)."""
    return factories.UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def calls(acme, globex):
    return make_call(acme, "CAscope-acme"), make_call(globex, "CAscope-globex")


def rows(html: str) -> dict[int, str]:
    """Call id → the text of its Company cell ("" when the row has none)."""
    found = {}
    for row in re.findall(r'<tr data-call-id="\d+".*?</tr>', html, re.S):
        call_id = int(re.search(r'data-call-id="(\d+)"', row).group(1))
        company = re.search(r'data-field="company"[^>]*>([^<]*)</td>', row)
        found[call_id] = company.group(1) if company else ""
    return found


def board(client, user, query: str = ""):
    client.force_login(user)
    response = client.get(f"/console/calls/{query}")
    assert response.status_code == 200
    return response


def test_a_superuser_sees_every_companys_calls_with_the_company_named(
    client, superuser, acme, globex, calls, staff_alice, charlie
):
    acme_call, globex_call = calls
    response = board(client, superuser)
    html = response.content.decode()

    assert rows(html) == {acme_call.id: "Acme", globex_call.id: "Globex"}
    assert "<th>Company</th>" in html
    assert "data-company-filter" in html
    data = json_data(response, "hub-board")
    assert data["several"] is True and data["chosen"] is None
    assert data["companies"] == {str(acme.id): "Acme", str(globex.id): "Globex"}
    # Rows that arrive live are named whoever places them, in either company.
    members = json_data(response, "hub-members")
    assert {str(staff_alice.id), str(charlie.id)} <= set(members)


def test_the_company_filter_is_kept_in_the_url(client, superuser, acme, globex, calls):
    _acme_call, globex_call = calls
    response = board(client, superuser, f"?company={globex.id}")
    html = response.content.decode()

    assert rows(html) == {globex_call.id: "Globex"}
    assert f'<option value="{globex.id}" selected>Globex</option>' in html
    assert json_data(response, "hub-board")["chosen"] == globex.id


def test_a_member_of_one_company_sees_no_company_column_and_no_other_tenant(
    client, staff_alice, acme, globex, calls
):
    acme_call, _globex_call = calls
    response = board(client, staff_alice)
    html = response.content.decode()

    assert rows(html) == {acme_call.id: ""}
    assert "<th>Company</th>" not in html
    assert "data-company-filter" not in html
    assert "Globex" not in html
    data = json_data(response, "hub-board")
    assert data["several"] is False
    assert data["companies"] == {str(acme.id): "Acme"}


def test_a_company_that_is_not_yours_in_the_url_shows_nothing_of_it(
    client, staff_alice, acme, globex, calls
):
    acme_call, _globex_call = calls
    response = board(client, staff_alice, f"?company={globex.id}")
    html = response.content.decode()

    assert rows(html) == {acme_call.id: ""}
    assert "Globex" not in html
    assert f"No company of yours has the id “{globex.id}”" in html
    data = json_data(response, "hub-board")
    assert data["chosen"] is None
    assert str(globex.id) not in data["companies"]


def test_a_member_of_several_companies_sees_them_all_and_may_filter(
    client, staff_alice, acme, globex, calls
):
    acme_call, globex_call = calls
    company_user_add(company=globex, user=staff_alice, role="support_staff")
    other = factories.CompanyFactory(company_name="Initech")
    make_call(other, "CAscope-initech")

    everything = board(client, staff_alice).content.decode()
    assert rows(everything) == {acme_call.id: "Acme", globex_call.id: "Globex"}
    assert "Initech" not in everything

    filtered = board(client, staff_alice, f"?company={acme.id}").content.decode()
    assert rows(filtered) == {acme_call.id: "Acme"}


def test_the_board_reads_a_bounded_number_of_queries(
    client, superuser, acme, globex, staff_alice, django_assert_max_num_queries
):
    for index in range(5):
        make_call(acme, f"CAq-acme-{index}", user=staff_alice)
        make_call(globex, f"CAq-globex-{index}")
        factories.CompanyFactory()
    client.force_login(superuser)
    with django_assert_max_num_queries(12):
        assert client.get("/console/calls/").status_code == 200


# --- the unread badge in the nav of every page -------------------------------------------------


@pytest.mark.parametrize("url", ["/console/calls/", "/console/notifications/", "/console/inbox/"])
def test_every_page_shows_the_users_own_unread_count_in_the_nav(
    client, staff_alice, staff_bob, url
):
    mine = [notification_create(user=staff_alice, title=f"n{i}", message="m") for i in range(3)]
    mine[0].is_read = True
    mine[0].save(update_fields=["is_read"])
    notification_create(user=staff_bob, title="for bob", message="m")

    client.force_login(staff_alice)
    response = client.get(url)
    html = response.content.decode()
    assert re.search(r'Notifications <span class="badge" data-unread-badge data-count="2"', html)
    assert sorted(json_data(response, "hub-unread-ids")) == sorted(str(n.id) for n in mine[1:])
