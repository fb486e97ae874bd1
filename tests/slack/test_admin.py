"""The Slack console pages for company staff: Acme's people see, pick and change only Acme's
installation, user links and /call requests; Globex's (charlie's) stay out of reach.

alice is the CEO of Acme (may change its Slack rows), bob a sales manager there (may only view
them), charlie the CEO of Globex. dana is a sales manager at Acme and the CEO of Globex.
"""

from __future__ import annotations

import pytest

from hub.domain.authentication.models import User
from hub.integrations.slack.models import SlackCallRequest, SlackInstallation, SlackUserLink
from hub.integrations.slack.services import (
    slack_call_request_claim,
    slack_call_request_done,
    slack_user_link_add,
)
from tests import factories
from tests.admin.helpers import admin_url, changeform_data
from tests.slack.conftest import GLOBEX_TEAM

pytestmark = pytest.mark.django_db

MODELS = {
    "installation": SlackInstallation,
    "link": SlackUserLink,
    "call_request": SlackCallRequest,
}


def slack_rows(installation, owner, label: str) -> dict[str, object]:
    link = slack_user_link_add(
        installation=installation,
        slack_user_id=f"U{label.upper()}01",
        user=owner,
        email=owner.email,
    )
    request, _ = slack_call_request_claim(
        request_id=f"{label.lower()}-request-1",
        installation=installation,
        user=owner,
        to_number="+14155550123",
    )
    slack_call_request_done(request=request, call_id=None, outcome=f"{label} call refused")
    return {"installation": installation, "link": link, "call_request": request}


@pytest.fixture
def acme_rows(acme_install, alice, bob):
    return slack_rows(acme_install, alice, "Acme")


@pytest.fixture
def globex_rows(globex_install, charlie):
    return slack_rows(globex_install, charlie, "Globex")


def staff(user: User) -> User:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def alice_client(client, alice):
    client.force_login(staff(alice))
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(staff(bob))
    return client


@pytest.fixture
def dana(acme, globex):
    user = factories.UserFactory(is_staff=True, first_name="Dana")
    factories.CompanyUserFactory(company=acme, user=user, role="sales_manager")
    factories.CompanyUserFactory(company=globex, user=user, role="ceo")
    return user


def outsider_markers(charlie) -> list[str]:
    return ["Globex", GLOBEX_TEAM, charlie.email]


@pytest.mark.parametrize("member", ["alice", "bob"])  # a CEO and a sales manager of Acme
@pytest.mark.parametrize("kind", list(MODELS))
def test_staff_see_their_company_rows_and_no_other(
    client, request, member, kind, charlie, acme_rows, globex_rows
):
    client.force_login(staff(request.getfixturevalue(member)))
    url = admin_url(MODELS[kind], "changelist")

    response = client.get(url)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [acme_rows[kind]]
    html = response.content.decode()
    for marker in outsider_markers(charlie):
        assert marker not in html
    own = client.get(admin_url(MODELS[kind], "change", acme_rows[kind].pk))
    assert own.status_code == 200
    for marker in outsider_markers(charlie):
        assert marker not in own.content.decode()
    # Searching for the other company, or filtering on its installation, finds none of its rows.
    assert list(client.get(url, {"q": "Globex"}).context["cl"].result_list) == []
    if kind != "installation":
        installation = globex_rows["installation"].pk
        filtered = client.get(url, {"installation__id__exact": installation})
        assert globex_rows[kind] not in filtered.context["cl"].result_list


@pytest.mark.parametrize("kind", list(MODELS))
def test_staff_cannot_open_change_or_delete_another_company_row(
    alice_client, kind, acme_rows, globex_rows
):
    model, row = MODELS[kind], globex_rows[kind]
    assert alice_client.get(admin_url(model, "change", row.pk)).status_code in (302, 404)
    data = changeform_data(alice_client.get(admin_url(model, "change", acme_rows[kind].pk)))

    response = alice_client.post(admin_url(model, "change", row.pk), data)

    assert response.status_code in (302, 403, 404)
    stored = model.objects.get(pk=row.pk)
    assert [getattr(stored, f.attname) for f in model._meta.concrete_fields] == [
        getattr(row, f.attname) for f in model._meta.concrete_fields
    ]
    response = alice_client.post(admin_url(model, "delete", row.pk), {"post": "yes"})
    assert response.status_code in (302, 403, 404)
    assert model.objects.filter(pk=row.pk).exists()


def test_forms_offer_only_their_company(alice_client, acme, charlie, acme_rows, globex_rows):
    form = alice_client.get(admin_url(SlackInstallation, "add")).context["adminform"].form
    assert list(form.fields["company"].queryset) == [acme]

    form = alice_client.get(admin_url(SlackUserLink, "add")).context["adminform"].form
    assert list(form.fields["installation"].queryset) == [acme_rows["installation"]]
    users = set(form.fields["user"].queryset)
    assert charlie not in users
    assert acme_rows["link"].user in users


def test_staff_cannot_pick_another_company(
    alice_client, alice, globex, fake_slack, acme_rows, globex_rows
):
    fake_slack.tokens["xoxb-globex-0002"] = ("TGLOBEX02", "Globex Two", "UBOTGLOBEX2")
    data = {
        "team_id": "TGLOBEX02",
        "company": globex.pk,
        "is_active": "on",
        "new_bot_token": "xoxb-globex-0002",
    }
    response = alice_client.post(admin_url(SlackInstallation, "add"), data)
    assert response.status_code == 200
    assert "company" in response.context["adminform"].form.errors
    assert not SlackInstallation.objects.filter(team_id="TGLOBEX02").exists()

    data = {
        "installation": globex_rows["installation"].pk,
        "slack_user_id": "UNEW0001",
        "user": alice.pk,
        "email": alice.email,
    }
    response = alice_client.post(admin_url(SlackUserLink, "add"), data)
    assert response.status_code == 200
    assert "installation" in response.context["adminform"].form.errors
    assert not SlackUserLink.objects.filter(slack_user_id="UNEW0001").exists()

    # Moving an own link to the other company's workspace is refused the same way.
    link = acme_rows["link"]
    page = alice_client.get(admin_url(SlackUserLink, "change", link.pk))
    data = changeform_data(page) | {"installation": globex_rows["installation"].pk}
    response = alice_client.post(admin_url(SlackUserLink, "change", link.pk), data)
    assert response.status_code == 200
    assert "installation" in response.context["adminform"].form.errors
    link.refresh_from_db()
    assert link.installation_id == acme_rows["installation"].pk


def test_a_viewer_may_look_but_not_change(bob_client, acme_rows):
    for kind, model in MODELS.items():
        row = acme_rows[kind]
        page = bob_client.get(admin_url(model, "change", row.pk))
        assert page.status_code == 200
        assert not page.context["has_change_permission"]
        assert bob_client.get(admin_url(model, "add")).status_code == 403
        assert (
            bob_client.post(admin_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        )
        assert model.objects.filter(pk=row.pk).exists()
    link = acme_rows["link"]
    data = {
        "installation": link.installation_id,
        "slack_user_id": "UTAKEN01",
        "user": link.user_id,
        "email": link.email,
    }
    assert bob_client.post(admin_url(SlackUserLink, "change", link.pk), data).status_code == 403
    link.refresh_from_db()
    assert link.slack_user_id == "UACME01"


def test_a_role_holds_per_company(client, dana, acme_rows, globex_rows):
    client.force_login(dana)
    # She sees both companies' links but may add one only in Globex's workspace, where she
    # is the CEO; Acme's is not offered, and posting it is refused.
    listed = client.get(admin_url(SlackUserLink, "changelist")).context["cl"].result_list
    assert set(listed) == {acme_rows["link"], globex_rows["link"]}
    form = client.get(admin_url(SlackUserLink, "add")).context["adminform"].form
    assert list(form.fields["installation"].queryset) == [globex_rows["installation"]]
    data = {
        "installation": acme_rows["installation"].pk,
        "slack_user_id": "UDANA01",
        "user": dana.pk,
        "email": dana.email,
    }
    response = client.post(admin_url(SlackUserLink, "add"), data)
    assert response.status_code == 200
    assert "installation" in response.context["adminform"].form.errors
    response = client.post(
        admin_url(SlackUserLink, "add"), data | {"installation": globex_rows["installation"].pk}
    )
    assert response.status_code == 302
    assert SlackUserLink.objects.get(slack_user_id="UDANA01").user == dana


def test_superuser_sees_every_company(client, acme_rows, globex_rows):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    for kind, model in MODELS.items():
        listed = client.get(admin_url(model, "changelist")).context["cl"].result_list
        assert set(listed) == {acme_rows[kind], globex_rows[kind]}


# --- writes go through the services ----------------------------------------------------------


def test_a_ceo_adds_and_edits_links_through_the_service(alice_client, acme, alice, acme_rows):
    carol = factories.CompanyUserFactory(company=acme, role="manager").user
    outsider = factories.UserFactory()
    data = {
        "installation": acme_rows["installation"].pk,
        "slack_user_id": "UCAROL01",
        "user": carol.pk,
        "email": carol.email,
    }
    response = alice_client.post(admin_url(SlackUserLink, "add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    link = SlackUserLink.objects.get(slack_user_id="UCAROL01")
    assert (link.installation, link.user, link.email) == (
        acme_rows["installation"],
        carol,
        carol.email,
    )

    # A user who is no member of Acme is refused next to the field, by the service's rule.
    response = alice_client.post(
        admin_url(SlackUserLink, "add"), data | {"slack_user_id": "UOUT01", "user": outsider.pk}
    )
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not SlackUserLink.objects.filter(slack_user_id="UOUT01").exists()

    page = alice_client.get(admin_url(SlackUserLink, "change", link.pk))
    response = alice_client.post(
        admin_url(SlackUserLink, "change", link.pk),
        changeform_data(page) | {"email": "carol@elsewhere.test"},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.email == "carol@elsewhere.test"


def test_a_ceo_registers_a_workspace_for_her_company(alice_client, acme, fake_slack):
    fake_slack.tokens["xoxb-acme-0002"] = ("TACME0002", "Acme Two", "UBOTACME2")
    data = {"team_id": "TACME0002", "company": acme.pk, "is_active": "on"}

    response = alice_client.post(
        admin_url(SlackInstallation, "add"), data | {"new_bot_token": "xoxb-acme-0002"}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    installation = SlackInstallation.objects.get(team_id="TACME0002")
    assert (installation.company, installation.team_name) == (acme, "Acme Two")


@pytest.mark.parametrize("who", ["ceo", "superuser"])
def test_nobody_deletes_a_call_request_claim(client, alice, who, acme_rows):
    """A claim keeps a redelivered /call job from ringing twice, so not even a superuser
    removes it: the delete page is refused, and the list offers no bulk delete (a forged
    one is ignored)."""
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff(alice) if who == "ceo" else superuser)
    row = acme_rows["call_request"]
    delete_url = admin_url(SlackCallRequest, "delete", row.pk)
    page = client.get(admin_url(SlackCallRequest, "change", row.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]

    assert client.get(delete_url).status_code == 403
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert client.get(admin_url(SlackCallRequest, "changelist")).context["action_form"] is None
    bulk = client.post(
        admin_url(SlackCallRequest, "changelist"),
        {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"},
    )

    assert bulk.status_code == 200
    assert bulk.context["action_form"] is None
    assert SlackCallRequest.objects.filter(pk=row.pk).exists()
