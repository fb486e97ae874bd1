"""A staff member's rights hold company by company, and shared rows keep other companies' tags.

dana is support staff at Acme (may change customers and issues there, nothing else) and the
CEO of Globex (may change everything there): being CEO of Globex gives her no right at Acme.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from hub.domain.authentication.models import CompanyUser, CustomerCompany
from hub.domain.crm.models import Deal
from hub.domain.customers.models import CustomerInteraction, CustomerProfile, CustomerTag
from tests import factories
from tests.admin.helpers import admin_url, changeform_data

pytestmark = pytest.mark.django_db


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


@pytest.fixture
def dana(acme, globex):
    user = factories.UserFactory(is_staff=True, first_name="Dana")
    factories.CompanyUserFactory(company=acme, user=user, role="support_staff")
    factories.CompanyUserFactory(company=globex, user=user, role="ceo")
    return user


@pytest.fixture
def dana_client(client, dana):
    client.force_login(dana)
    return client


def change_form(client, row, **values):
    return changeform_data(client.get(admin_url(type(row), "change", row.pk))) | values


def test_cannot_raise_own_role_in_the_company_of_a_lower_role(dana_client, dana, acme, globex):
    membership = CompanyUser.objects.get(user=dana, company=acme)
    url = admin_url(CompanyUser, "change", membership.pk)
    page = dana_client.get(url)
    assert page.status_code == 200  # viewable, read-only
    assert not page.context["has_change_permission"]
    data = {"user": dana.pk, "company": acme.pk, "role": "ceo", "department": "sales"}
    assert dana_client.post(url, data).status_code == 403
    membership.refresh_from_db()
    assert membership.role == "support_staff"

    # Nor by adding a second membership at Acme: only Globex may be picked.
    form = dana_client.get(admin_url(CompanyUser, "add")).context["adminform"].form
    assert list(form.fields["company"].queryset) == [globex]
    response = dana_client.post(admin_url(CompanyUser, "add"), data)
    assert response.status_code == 200
    assert "company" in response.context["adminform"].form.errors
    assert CompanyUser.objects.filter(user=dana, company=acme).count() == 1


def test_cannot_change_or_delete_a_row_of_the_company_of_a_lower_role(
    dana_client, acme_rows, globex_rows
):
    acme_deal, globex_deal = acme_rows["deal"], globex_rows["deal"]
    page = dana_client.get(admin_url(Deal, "change", acme_deal.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    data = change_form(dana_client, globex_deal, title="Renamed at Globex")
    data["title"] = "Taken over"
    response = dana_client.post(admin_url(Deal, "change", acme_deal.pk), data)
    assert response.status_code == 403
    acme_deal.refresh_from_db()
    assert acme_deal.title == "Acme deal"
    response = dana_client.post(admin_url(Deal, "delete", acme_deal.pk), {"post": "yes"})
    assert response.status_code == 403
    assert Deal.objects.filter(pk=acme_deal.pk).exists()

    # The same form on the Globex row, where she is the CEO, is saved.
    data = change_form(dana_client, globex_deal, title="Renamed at Globex")
    response = dana_client.post(admin_url(Deal, "change", globex_deal.pk), data)
    assert response.status_code == 302
    globex_deal.refresh_from_db()
    assert globex_deal.title == "Renamed at Globex"


def test_role_of_each_company_applies_to_its_rows(dana_client, dana, acme_rows, globex_rows):
    # Support staff may change customers data at Acme.
    interaction = acme_rows["interaction"]
    data = change_form(dana_client, interaction, subject="Followed up")
    response = dana_client.post(admin_url(CustomerInteraction, "change", interaction.pk), data)
    assert response.status_code == 302
    interaction.refresh_from_db()
    assert interaction.subject == "Followed up"

    deal_admin = admin.site.get_model_admin(Deal)
    request = request_for(dana)
    assert deal_admin.has_change_permission(request)  # at Globex
    assert not deal_admin.has_change_permission(request, acme_rows["deal"])
    assert not deal_admin.has_delete_permission(request, acme_rows["deal"])
    assert deal_admin.has_change_permission(request, globex_rows["deal"])
    assert deal_admin.has_delete_permission(request, globex_rows["deal"])
    # Both stay viewable.
    assert set(deal_admin.get_queryset(request)) == {acme_rows["deal"], globex_rows["deal"]}


def test_save_of_a_row_of_the_company_of_a_lower_role_is_refused(dana, acme_rows, globex_rows):
    """The last line of defence, whatever a form let through."""
    deal_admin = admin.site.get_model_admin(Deal)
    with pytest.raises(PermissionDenied):
        deal_admin.save_model(request_for(dana), acme_rows["deal"], form=None, change=True)
    moved = globex_rows["deal"]
    moved.company_id = acme_rows["deal"].company_id
    with pytest.raises(PermissionDenied):
        deal_admin.save_model(request_for(dana), moved, form=None, change=True)


def test_add_form_offers_only_companies_where_the_role_writes(dana_client, acme, globex):
    form = dana_client.get(admin_url(Deal, "add")).context["adminform"].form
    assert list(form.fields["company"].queryset) == [globex]
    # Customers data: both companies.
    form = dana_client.get(admin_url(CustomerInteraction, "add")).context["adminform"].form
    assert set(form.fields["company"].queryset) == {acme, globex}


def test_write_actions_run_only_on_rows_she_may_change(dana_client, acme_rows, globex_rows):
    acme_deal, globex_deal = acme_rows["deal"], globex_rows["deal"]
    for action in ("mark_won", "delete_selected"):
        dana_client.post(
            admin_url(Deal, "changelist"),
            {"action": action, "_selected_action": [acme_deal.pk], "post": "yes"},
        )
    acme_deal.refresh_from_db()
    assert acme_deal.status == "open"
    dana_client.post(
        admin_url(Deal, "changelist"),
        {"action": "mark_won", "_selected_action": [acme_deal.pk, globex_deal.pk]},
    )
    acme_deal.refresh_from_db()
    globex_deal.refresh_from_db()
    assert (acme_deal.status, globex_deal.status) == ("open", "won")


def test_superuser_stays_unrestricted(superuser_client, superuser, acme_rows, globex):
    deal_admin = admin.site.get_model_admin(Deal)
    assert deal_admin.has_change_permission(request_for(superuser), acme_rows["deal"])
    form = superuser_client.get(admin_url(Deal, "add")).context["adminform"].form
    assert form.fields["company"].queryset.count() >= 2


# --- a profile shared by Acme and Globex, tagged by both -----------------------------------


@pytest.fixture
def shared_profile(acme_rows, globex_rows, globex):
    customer = acme_rows["customer"]
    CustomerCompany.objects.create(customer=customer, company=globex, verified=True)
    profile = CustomerProfile.objects.get(customer=customer)
    assert [tag.name for tag in profile.tags.all()] == ["Acme tag"]
    return profile


@pytest.fixture
def charlie_client(client, charlie):
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    client.force_login(charlie)
    return client


def test_globex_staff_never_see_acme_tag_names(charlie_client, shared_profile, acme_rows):
    url = admin_url(CustomerProfile, "changelist")
    response = charlie_client.get(url)
    assert response.status_code == 200
    assert shared_profile in response.context["cl"].result_list
    changelist = response.context["cl"]
    labels = {
        str(choice["display"])
        for spec in changelist.filter_specs
        for choice in spec.choices(changelist)
    }
    assert "Globex tag" in labels
    assert "Acme tag" not in labels
    assert "Acme tag" not in response.content.decode()

    # Nor can they learn which profiles carry it by filtering on its id.
    acme_tag = CustomerTag.objects.get(name="Acme tag")
    response = charlie_client.get(url, {"tags__id__exact": acme_tag.pk})
    assert list(response.context["cl"].result_list) == []

    page = charlie_client.get(admin_url(CustomerProfile, "change", shared_profile.pk))
    assert "Acme tag" not in page.content.decode()


def test_saving_a_shared_profile_keeps_the_other_company_tags(charlie_client, shared_profile):
    globex_tag = CustomerTag.objects.get(name="Globex tag")
    data = change_form(charlie_client, shared_profile, industry="Robotics")
    data["tags"] = [str(globex_tag.pk)]
    response = charlie_client.post(admin_url(CustomerProfile, "change", shared_profile.pk), data)
    assert response.status_code == 302
    shared_profile.refresh_from_db()
    assert shared_profile.industry == "Robotics"
    assert {tag.name for tag in shared_profile.tags.all()} == {"Acme tag", "Globex tag"}

    # Removing their own tag again leaves Acme's.
    data["tags"] = []
    response = charlie_client.post(admin_url(CustomerProfile, "change", shared_profile.pk), data)
    assert response.status_code == 302
    assert [tag.name for tag in shared_profile.tags.all()] == ["Acme tag"]


def test_superuser_may_remove_any_tag(superuser_client, shared_profile):
    data = change_form(superuser_client, shared_profile)
    data["tags"] = []
    response = superuser_client.post(admin_url(CustomerProfile, "change", shared_profile.pk), data)
    assert response.status_code == 302
    assert not shared_profile.tags.exists()
