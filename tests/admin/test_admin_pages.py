"""Every registered admin renders for a superuser: changelist, search, add page, change page."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from hub.console.admin.base import audit_fields
from tests.admin.helpers import admin_url, registered_models, tenant_rows

pytestmark = pytest.mark.django_db

HUB_APPS = [config for config in apps.get_app_configs() if config.name.startswith("hub.")]


def test_every_hub_model_is_registered():
    missing = [
        model._meta.label
        for config in HUB_APPS
        for model in config.get_models()
        if not admin.site.is_registered(model)
    ]
    assert missing == []


def test_groups_are_not_offered():
    from django.contrib.auth.models import Group

    assert not admin.site.is_registered(Group)


@pytest.mark.parametrize("model", registered_models(), ids=lambda model: model._meta.label)
def test_superuser_pages_render(
    model, superuser, superuser_client, acme_rows, globex_rows, hub_rows
):
    model_admin = admin.site.get_model_admin(model)
    request = RequestFactory().get("/")
    request.user = superuser

    response = superuser_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert superuser_client.get(admin_url(model, "changelist"), {"q": "a"}).status_code == 200

    expected = 200 if model_admin.has_add_permission(request) else 403
    assert superuser_client.get(admin_url(model, "add")).status_code == expected

    row = model._default_manager.order_by("pk").first()
    if model._meta.app_config in HUB_APPS:
        assert row is not None, f"the fixtures make no {model._meta.label} row"
    if row is not None:
        response = superuser_client.get(admin_url(model, "change", row.pk))
        assert response.status_code == 200
        assert superuser_client.get(admin_url(model, "history", row.pk)).status_code == 200


@pytest.mark.parametrize("model", registered_models(), ids=lambda model: model._meta.label)
def test_changelist_filters_render(model, superuser_client, acme_rows, globex_rows, hub_rows):
    """Each list filter and the date drill-down work on both databases."""
    response = superuser_client.get(admin_url(model, "changelist"))
    changelist = response.context["cl"]
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            query = choice["query_string"]
            assert superuser_client.get(admin_url(model, "changelist") + query).status_code == 200
    if changelist.date_hierarchy:
        field = changelist.date_hierarchy
        row = model._default_manager.exclude(**{f"{field}__isnull": True}).first()
        if row is not None:
            value = getattr(row, field)
            query = {f"{field}__year": value.year, f"{field}__month": value.month}
            assert superuser_client.get(admin_url(model, "changelist"), query).status_code == 200


def test_audit_columns_are_shown_read_only(superuser, acme_rows, hub_rows):
    request = RequestFactory().get("/")
    request.user = superuser
    checked = 0
    for model in registered_models():
        if model._meta.app_config not in HUB_APPS:
            continue
        model_admin = admin.site.get_model_admin(model)
        row = model._default_manager.first()
        audit = set(audit_fields(model))
        assert audit <= set(model_admin.get_readonly_fields(request, row)), model._meta.label
        assert audit <= set(flatten_fieldsets(model_admin.get_fieldsets(request, row))), (
            model._meta.label
        )
        checked += 1
    assert checked == len([m for m in apps.get_models() if m._meta.app_config in HUB_APPS])


@pytest.mark.parametrize("model", registered_models(), ids=lambda model: model._meta.label)
def test_changelist_queries_do_not_grow_with_rows(
    model, superuser_client, acme_rows, globex, charlie
):
    """list_select_related covers every column: a second tenant's rows cost no extra query."""
    url = admin_url(model, "changelist")
    superuser_client.get(url)  # warm the session and content-type caches
    with CaptureQueriesContext(connection) as one_tenant:
        assert superuser_client.get(url).status_code == 200
    tenant_rows(globex, charlie, "Globex")
    with CaptureQueriesContext(connection) as two_tenants:
        assert superuser_client.get(url).status_code == 200
    assert len(two_tenants) == len(one_tenant), [q["sql"] for q in two_tenants.captured_queries]
