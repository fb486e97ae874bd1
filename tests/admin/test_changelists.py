"""The main lists: the columns that fit, filters that name the company, pickers that search.

Acme has alice (CEO) and bob (sales manager, staff); Globex has charlie. Both companies have
a pipeline called "Sales Pipeline", so a filter must name the company to tell them apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.admin.widgets import AutocompleteSelect
from django.urls import reverse

from hub.console.admin.listing import clipped, company_labelled, person, short_time
from hub.domain.authentication.models import User
from hub.domain.authentication.services import company_user_add
from hub.domain.crm.models import Deal, Lead
from tests import factories
from tests.admin.helpers import admin_url

pytestmark = pytest.mark.django_db

LONG_TITLE = "Enterprise rollout of the analytics platform for every regional office and branch"


def filter_choices(response, title: str) -> list[str]:
    """The labels a list filter offers (without "All")."""
    changelist = response.context["cl"]
    for spec in changelist.filter_specs:
        if str(spec.title) == title:
            return [str(c["display"]) for c in spec.choices(changelist)][1:]
    raise AssertionError(
        f"no {title!r} filter in {[str(s.title) for s in changelist.filter_specs]}"
    )


def column_names(response) -> list[str]:
    return [getattr(item, "__name__", item) for item in response.context["cl"].list_display]


def autocomplete(client, app_label: str, model_name: str, field_name: str, term: str = ""):
    return client.get(
        reverse("admin:autocomplete"),
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )


def found_ids(response) -> set[int]:
    return {int(result["id"]) for result in response.json()["results"]}


@pytest.fixture
def deals(acme, globex, alice, charlie):
    return (
        factories.DealFactory(company=acme, title=LONG_TITLE, assigned_to=alice),
        factories.DealFactory(company=globex, title="Globex deal", assigned_to=charlie),
    )


def test_both_companies_have_a_pipeline_of_the_same_name(deals):
    names = [deal.pipeline.name for deal in deals]
    assert names[0] == names[1]


def test_superuser_pipeline_and_stage_filters_name_the_company(superuser_client, deals):
    response = superuser_client.get(admin_url(Deal, "changelist"))

    pipeline = deals[0].pipeline.name
    assert sorted(filter_choices(response, "pipeline")) == [
        f"{pipeline} · Acme",
        f"{pipeline} · Globex",
    ]
    assert sorted(filter_choices(response, "company")) == ["Acme", "Globex"]
    assert "company" in column_names(response)


def test_superuser_stage_filters_name_the_company(superuser_client, deals):
    for url in (admin_url(Deal, "changelist"), reverse("admin:crm_dealstage_changelist")):
        response = superuser_client.get(url)
        title = "stage" if "deal/" in url else "pipeline"
        labels = filter_choices(response, title)
        assert labels and all(label.endswith((" · Acme", " · Globex")) for label in labels)
        assert any(label.endswith(" · Globex") for label in labels)


def test_staff_of_one_company_see_neither_company_column_nor_filter(bob_client, deals):
    stages = list(deals[0].pipeline.stages.order_by("order")[:2])
    factories.DealFactory(company=deals[0].company, stage=stages[1], title="Second stage")

    response = bob_client.get(admin_url(Deal, "changelist"))

    assert response.status_code == 200
    assert filter_choices(response, "stage") == [str(stage) for stage in stages]
    titles = [str(spec.title) for spec in response.context["cl"].filter_specs]
    assert "company" not in titles
    assert "company" not in column_names(response)
    assert b"Globex" not in response.content


def test_staff_of_two_companies_see_both_named_and_no_third(client, acme, globex, deals):
    initech = factories.CompanyFactory(company_name="Initech")
    factories.DealFactory(company=initech, title="Initech deal")
    both = factories.UserFactory(is_staff=True)
    company_user_add(company=acme, user=both, role="manager")
    company_user_add(company=globex, user=both, role="manager")
    client.force_login(both)

    response = client.get(admin_url(Deal, "changelist"))

    pipeline = deals[0].pipeline.name
    assert sorted(filter_choices(response, "pipeline")) == [
        f"{pipeline} · Acme",
        f"{pipeline} · Globex",
    ]
    assert sorted(filter_choices(response, "company")) == ["Acme", "Globex"]
    assert "company" in column_names(response)
    assert b"Initech" not in response.content


def test_a_long_title_is_cut_with_the_whole_of_it_in_its_title(superuser_client, deals):
    response = superuser_client.get(admin_url(Deal, "changelist"))

    assert f'class="hub-clip hub-clip-wide" title="{LONG_TITLE}"'.encode() in response.content
    assert b"hub/admin/admin.css" in response.content


@pytest.mark.parametrize(
    ("model_url", "dropped", "kept"),
    [
        ("calls/call", {"twilio_call_sid", "duration", "disposition"}, {"status", "direction"}),
        ("crm/lead", {"estimated_value", "company_name"}, {"status", "lead_source"}),
        ("crm/deal", {"currency", "probability", "priority"}, {"status", "stage", "title"}),
        ("emails/email", {"thread", "opens_count", "clicks_count"}, {"status", "subject"}),
    ],
)
def test_main_lists_show_the_useful_columns(superuser_client, model_url, dropped, kept):
    response = superuser_client.get(f"/admin/{model_url}/")

    columns = set(column_names(response))
    assert kept <= columns
    assert not dropped & columns
    assert "company" in columns


def test_statuses_show_their_labels(superuser_client, acme):
    factories.CallFactory(company=acme, status="InProgress")

    response = superuser_client.get("/admin/calls/call/")

    assert b"In progress" in response.content
    assert b">InProgress<" not in response.content
    assert "In progress" in filter_choices(response, "status")


def test_every_main_list_of_a_superuser_offers_a_company_filter(
    superuser_client, acme_rows, globex_rows
):
    for url in (
        "calls/call",
        "crm/lead",
        "crm/deal",
        "authentication/customer",
        "emails/email",
        "notifications/notification",
    ):
        response = superuser_client.get(f"/admin/{url}/")
        titles = [str(spec.title) for spec in response.context["cl"].filter_specs]
        assert "company" in titles, url


# --- the user pickers of company staff (the autocomplete view) ------------------------------

PICKERS = [
    ("calls", "call", "user"),
    ("crm", "lead", "assigned_to"),
    ("emails", "emailaccount", "user"),
    ("hub_slack", "slackuserlink", "user"),
]


@pytest.mark.parametrize(("app_label", "model_name", "field_name"), PICKERS)
def test_staff_pickers_find_the_people_of_their_company_only(
    bob_client, alice, staff_bob, charlie, app_label, model_name, field_name
):
    response = autocomplete(bob_client, app_label, model_name, field_name)

    assert response.status_code == 200
    found = found_ids(response)
    assert {alice.pk, staff_bob.pk} <= found
    assert charlie.pk not in found
    acme_people = User.objects.filter(memberships__company__company_name="Acme")
    assert found <= set(acme_people.values_list("pk", flat=True))


def test_staff_search_by_name_never_reaches_another_company(bob_client, charlie):
    response = autocomplete(bob_client, "calls", "call", "user", term=charlie.email)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_superuser_pickers_find_everyone(superuser_client, alice, charlie):
    response = autocomplete(superuser_client, "crm", "lead", "assigned_to")

    assert response.status_code == 200
    assert {alice.pk, charlie.pk} <= found_ids(response)


def test_staff_without_a_company_are_refused(client):
    loner = factories.UserFactory(is_staff=True)
    client.force_login(loner)

    assert autocomplete(client, "calls", "call", "user").status_code == 403


def test_the_user_pages_stay_with_superusers(bob_client, alice):
    assert bob_client.get(admin_url(User, "changelist")).status_code == 403
    assert bob_client.get(admin_url(User, "change", alice.pk)).status_code == 403


def test_staff_forms_offer_the_user_picker_as_a_search(bob_client, acme_rows):
    response = bob_client.get(admin_url(Lead, "change", acme_rows["lead"].pk))

    assert response.status_code == 200
    widget = response.context["adminform"].form.fields["assigned_to"].widget
    assert isinstance(widget.widget, AutocompleteSelect)


# --- the cells ----------------------------------------------------------------------------------


def test_a_cut_cell_escapes_its_text_and_title():
    html = clipped('<b>"Big" deal</b>')

    assert html == (
        '<span class="hub-clip" title="&lt;b&gt;&quot;Big&quot; deal&lt;/b&gt;">'
        "&lt;b&gt;&quot;Big&quot; deal&lt;/b&gt;</span>"
    )
    assert clipped("") == clipped(None) == "-"


def test_a_person_reads_by_name_with_the_address_on_hover():
    user = User(first_name="Nancy", last_name="Davolio", email="nancy@northwind.test")

    assert person(user) == (
        '<span class="hub-clip" title="Nancy Davolio &lt;nancy@northwind.test&gt;">'
        "Nancy Davolio</span>"
    )
    assert "nancy@northwind.test</span>" in person(User(email="nancy@northwind.test"))


def test_a_time_is_short_with_the_whole_on_hover(settings):
    settings.TIME_ZONE = "UTC"
    moment = datetime(2021, 3, 4, 5, 6, tzinfo=UTC)

    html = short_time(moment)

    assert ">Mar 4 2021, 05:06</time>" in html
    assert 'title="Thursday, March 4, 2021, 05:06:00 UTC"' in html
    assert short_time(None) == "-"


def test_choices_name_their_company_only_when_companies_differ():
    choices = [(1, "Sales Pipeline"), (2, "Sales Pipeline")]

    assert company_labelled(choices, {1: "Acme", 2: "Globex"}) == [
        (1, "Sales Pipeline · Acme"),
        (2, "Sales Pipeline · Globex"),
    ]
    assert company_labelled(choices[:1], {1: "Acme"}) == choices[:1]
