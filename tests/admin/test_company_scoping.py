"""Staff see, pick and save only their companies' rows; charlie's Globex stays out of bob's view."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from hub.domain.crm.models import Deal, Lead
from hub.domain.events.models import Event
from hub.domain.notifications.models import Notification
from tests import factories
from tests.admin.helpers import admin_url, changeform_data, registered_models

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def outsider_markers(charlie) -> list[str]:
    return ["Globex", charlie.email]


@pytest.mark.parametrize(
    ("model_key", "acme_text", "globex_text"),
    [
        ("deal", "Acme deal", "Globex deal"),
        ("lead", "Acme", "Globex"),
        ("call", "Acme call", "Globex call"),
    ],
)
def test_staff_changelist_shows_only_their_company(
    bob_client, acme_rows, globex_rows, model_key, acme_text, globex_text
):
    model = type(acme_rows[model_key])
    url = admin_url(model, "changelist")
    response = bob_client.get(url, {"q": "call"} if model_key == "call" else {})
    assert response.status_code == 200
    shown = list(response.context["cl"].result_list)
    assert shown == [acme_rows[model_key]]
    html = response.content.decode()
    assert globex_text not in html
    if model_key != "call":
        assert acme_text in html


@pytest.mark.parametrize("member", ["bob", "alice"])  # a sales manager and a CEO of Acme
def test_staff_sees_no_outsider_row_in_any_page(
    client, member, request, charlie, acme_rows, globex_rows
):
    user = request.getfixturevalue(member)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    viewable = 0
    for model in registered_models():
        model_admin = admin.site.get_model_admin(model)
        if not model_admin.has_view_permission(request_for(user)):
            assert client.get(admin_url(model, "changelist")).status_code == 403
            continue
        viewable += 1
        pages = [admin_url(model, "changelist")]
        if model_admin.has_add_permission(request_for(user)):
            pages.append(admin_url(model, "add"))
        for own_row in model_admin.get_queryset(request_for(user))[:1]:
            pages.append(admin_url(model, "change", own_row.pk))
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            html = response.content.decode()
            for marker in outsider_markers(charlie):
                assert marker not in html, f"{marker!r} shown on {url}"
    assert viewable >= 30


@pytest.mark.parametrize(
    "model_key", ["deal", "lead", "call", "account", "note", "item", "tracking"]
)
def test_staff_cannot_open_an_outsider_row(bob_client, acme_rows, globex_rows, model_key):
    row = globex_rows[model_key]
    response = bob_client.get(admin_url(type(row), "change", row.pk))
    assert response.status_code in (302, 404)
    response = bob_client.get(admin_url(type(row), "change", acme_rows[model_key].pk))
    assert response.status_code == 200


def test_staff_cannot_post_to_an_outsider_row(bob_client, acme_rows, globex_rows):
    deal = globex_rows["deal"]
    response = bob_client.post(admin_url(Deal, "change", deal.pk), {"title": "Taken over"})
    assert response.status_code in (302, 404)
    deal.refresh_from_db()
    assert deal.title == "Globex deal"
    response = bob_client.post(admin_url(Deal, "delete", deal.pk), {"post": "yes"})
    assert response.status_code in (302, 404)
    assert Deal.objects.filter(pk=deal.pk).exists()


def test_staff_foreign_key_choices_are_their_companies(bob_client, acme, acme_rows, globex_rows):
    response = bob_client.get(admin_url(Deal, "add"))
    form = response.context["adminform"].form
    assert list(form.fields["company"].queryset) == [acme]
    assert set(form.fields["pipeline"].queryset) == set(acme.pipelines.all())
    assert {stage.pipeline.company_id for stage in form.fields["stage"].queryset} == {acme.pk}
    assert list(form.fields["lead"].queryset) == [acme_rows["lead"]]
    users = set(form.fields["assigned_to"].queryset)
    assert globex_rows["membership"].user not in users
    assert acme_rows["membership"].user in users


def test_staff_cannot_pick_an_outsider_row(
    bob_client, staff_bob, acme, globex, acme_rows, globex_rows
):
    globex_pipeline = globex.pipelines.get()
    data = {
        "company": globex.pk,
        "pipeline": globex_pipeline.pk,
        "stage": globex_pipeline.stages.first().pk,
        "created_by": staff_bob.pk,
        "lead": globex_rows["lead"].pk,
        "title": "Sneaky deal",
        "value": "10.00",
        "currency": "USD",
        "contact_name": "Pat",
        "contact_email": "pat@example.test",
        "company_name": "Client",
        "status": "open",
        "priority": "medium",
    }
    response = bob_client.post(admin_url(Deal, "add"), data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert {"company", "pipeline", "stage", "lead"} <= set(errors)
    assert not Deal.objects.filter(title="Sneaky deal").exists()

    # Moving an own row into the other company is refused the same way.
    deal = acme_rows["deal"]
    page = bob_client.get(admin_url(Deal, "change", deal.pk))
    data = changeform_data(page) | {"company": globex.pk}
    response = bob_client.post(admin_url(Deal, "change", deal.pk), data)
    assert response.status_code == 200
    assert "company" in response.context["adminform"].form.errors
    deal.refresh_from_db()
    assert deal.company_id == acme.pk


def test_staff_autocomplete_offers_their_rows_only(bob_client, acme_rows, globex_rows):
    response = bob_client.get(
        "/admin/autocomplete/",
        {"app_label": "crm", "model_name": "deal", "field_name": "lead", "term": ""},
    )
    assert response.status_code == 200
    ids = {item["id"] for item in response.json()["results"]}
    assert ids == {str(acme_rows["lead"].pk)}


def test_staff_list_filters_name_no_outsider(bob_client, staff_bob, acme_rows, globex_rows):
    # With two companies of his own, bob gets a company filter: his two, not charlie's.
    initech = factories.CompanyFactory(company_name="Initech")
    factories.CompanyUserFactory(company=initech, user=staff_bob, role="manager")
    factories.LeadFactory(company=initech)
    response = bob_client.get(admin_url(Lead, "changelist"))
    changelist = response.context["cl"]
    labels = [
        str(choice["display"])
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    ]
    assert {"Acme", "Initech"} <= set(labels)
    assert "Globex" not in labels
    assert "Globex" not in response.content.decode()


def test_saving_an_outsider_row_is_refused(staff_bob, globex_rows):
    """The last line of defence, whatever a form let through."""
    deal = globex_rows["deal"]
    model_admin = admin.site.get_model_admin(Deal)
    with pytest.raises(PermissionDenied):
        model_admin.save_model(request_for(staff_bob), deal, form=None, change=True)
    email = globex_rows["email"]
    with pytest.raises(PermissionDenied):
        admin.site.get_model_admin(type(email)).save_model(
            request_for(staff_bob), email, None, True
        )


def test_staff_sees_only_their_own_notifications(bob_client, staff_bob, acme_rows):
    own = factories.NotificationFactory(user=staff_bob, title="For bob")
    response = bob_client.get(admin_url(Notification, "changelist"))
    assert list(response.context["cl"].result_list) == [own]
    alices = acme_rows["notification"]
    assert bob_client.get(admin_url(Notification, "change", alices.pk)).status_code in (302, 404)


def test_staff_may_not_see_people_tenants_or_the_event_log(bob_client, staff_bob, acme):
    from hub.domain.authentication.models import Company, User

    for model in (User, Company, Event):
        assert bob_client.get(admin_url(model, "changelist")).status_code == 403
    assert bob_client.get(admin_url(User, "change", staff_bob.pk)).status_code == 403


def test_superuser_sees_every_company(superuser_client, acme_rows, globex_rows):
    response = superuser_client.get(admin_url(Deal, "changelist"))
    assert set(response.context["cl"].result_list) == {acme_rows["deal"], globex_rows["deal"]}


def test_non_staff_are_sent_to_login(client, alice, acme_rows):
    client.force_login(alice)  # a CEO, but not staff
    for url in (
        "/admin/",
        admin_url(Deal, "changelist"),
        admin_url(Deal, "change", acme_rows["deal"].pk),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_anonymous_are_sent_to_login(client, acme_rows):
    response = client.get(admin_url(Deal, "changelist"))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
