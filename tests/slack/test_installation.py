"""Connecting a workspace: ``manage.py slack_install``, the stored token, the admin pages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hub.domain.emails.crypto import credential_decrypt
from hub.integrations.slack.models import SlackInstallation, SlackUserLink
from tests import factories
from tests.slack.conftest import ACME_TEAM, ACME_TOKEN

pytestmark = pytest.mark.django_db


def install(*args: str) -> str:
    out = StringIO()
    call_command("slack_install", *args, stdout=out)
    return out.getvalue()


def test_slack_install_checks_the_token_with_slack_and_stores_it_encrypted(acme, fake_slack):
    fake_slack.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")

    out = install("--team", ACME_TEAM, "--company", str(acme.pk), "--bot-token", ACME_TOKEN)

    assert out.strip() == (
        f"Slack workspace {ACME_TEAM} (Acme Slack) is connected to Acme (id {acme.pk})."
    )
    row = SlackInstallation.objects.get()
    assert (row.team_id, row.company, row.bot_user_id, row.team_name) == (
        ACME_TEAM,
        acme,
        "UBOTACME",
        "Acme Slack",
    )
    assert ACME_TOKEN not in row.bot_token
    assert credential_decrypt(row.bot_token) == ACME_TOKEN
    [checked] = fake_slack.calls_to("/api/auth.test")
    assert checked.token == ACME_TOKEN


def test_slack_install_refuses_a_token_of_another_workspace(acme, fake_slack):
    fake_slack.tokens[ACME_TOKEN] = ("TOTHER001", "Other", "UBOT")
    with pytest.raises(CommandError, match="belongs to workspace TOTHER001, not TACME0001"):
        install("--team", ACME_TEAM, "--company", "Acme", "--bot-token", ACME_TOKEN)
    assert not SlackInstallation.objects.exists()


def test_slack_install_refuses_a_token_slack_does_not_know(acme, fake_slack):
    with pytest.raises(CommandError, match="invalid_auth"):
        install("--team", ACME_TEAM, "--company", "Acme", "--bot-token", "xoxb-revoked")
    assert not SlackInstallation.objects.exists()


def test_slack_install_without_verifying_and_moving_a_workspace_forgets_its_links(
    acme, alice, globex, fake_slack
):
    install("--team", ACME_TEAM, "--company", "acme", "--bot-token", ACME_TOKEN, "--no-verify")
    row = SlackInstallation.objects.get()
    SlackUserLink.objects.create(
        installation=row, slack_user_id="UALICE01", user=alice, email=alice.email
    )
    assert fake_slack.requests == []

    install(
        "--team", ACME_TEAM, "--company", str(globex.pk), "--bot-token", "xoxb-new", "--no-verify"
    )

    row.refresh_from_db()
    assert row.company == globex
    assert credential_decrypt(row.bot_token) == "xoxb-new"
    assert not SlackUserLink.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--team", "nope", "--company", "Acme", "--bot-token", "xoxb-1"], "not a Slack team id"),
        (["--team", ACME_TEAM, "--company", "Acme", "--bot-token", "xoxp-1"], "starts with xoxb-"),
        (["--team", ACME_TEAM, "--company", "Initech", "--bot-token", "xoxb-1"], "no company"),
    ],
)
def test_slack_install_refuses_bad_arguments_in_words(acme, args, message):
    with pytest.raises(CommandError, match=message):
        install(*args, "--no-verify")
    assert not SlackInstallation.objects.exists()


def test_the_admin_never_shows_the_token_and_replaces_it_when_given(
    client, acme, acme_install, settings, fake_slack
):
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    url = f"/admin/hub_slack/slackinstallation/{acme_install.pk}/change/"
    stored = acme_install.bot_token

    page = client.get(url).content.decode()

    assert ACME_TOKEN not in page and stored not in page
    assert "set" in page
    form = {"team_name": "Renamed", "bot_user_id": "UBOTACME", "is_active": "on"}
    assert client.post(url, form | {"new_bot_token": ""}).status_code == 302
    acme_install.refresh_from_db()
    assert (acme_install.team_name, acme_install.bot_token) == ("Renamed", stored)
    fake_slack.tokens["xoxb-rotated"] = (ACME_TEAM, "Acme Slack", "UBOTACME")
    assert client.post(url, form | {"new_bot_token": "xoxb-rotated"}).status_code == 302
    acme_install.refresh_from_db()
    assert credential_decrypt(acme_install.bot_token) == "xoxb-rotated"
    # Filtering on the token through the URL would be an oracle on it.
    listing = client.get("/admin/hub_slack/slackinstallation/", {"bot_token__startswith": "g"})
    assert listing.status_code == 400


@pytest.fixture
def admin_client(client):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    return client


ADD_URL = "/admin/hub_slack/slackinstallation/add/"


def add_form(company, token: str, team_id: str = ACME_TEAM) -> dict[str, str]:
    return {
        "team_id": team_id,
        "team_name": "",
        "company": str(company.pk),
        "bot_user_id": "",
        "is_active": "on",
        "new_bot_token": token,
    }


def test_the_admin_adds_a_workspace_only_with_a_token_slack_confirms_for_it(
    admin_client, acme, fake_slack
):
    fake_slack.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")

    response = admin_client.post(ADD_URL, add_form(acme, ACME_TOKEN))

    assert response.status_code == 302, response.context["adminform"].form.errors
    row = SlackInstallation.objects.get()
    assert (row.team_id, row.company, row.bot_user_id, row.team_name) == (
        ACME_TEAM,
        acme,
        "UBOTACME",
        "Acme Slack",
    )
    [checked] = fake_slack.calls_to("/api/auth.test")
    assert checked.token == ACME_TOKEN


def _token_errors(response) -> list[str]:
    assert response.status_code == 200
    return response.context["adminform"].form.errors["new_bot_token"]


def test_the_admin_refuses_a_token_of_another_workspace(admin_client, acme, fake_slack):
    # Another company's workspace cannot be claimed with a token of one's own.
    fake_slack.tokens["xoxb-mine"] = ("TMINE0001", "Mine", "UBOTMINE")

    response = admin_client.post(ADD_URL, add_form(acme, "xoxb-mine"))

    assert _token_errors(response) == [
        f"This token belongs to Slack workspace TMINE0001, not {ACME_TEAM}."
    ]
    assert not SlackInstallation.objects.exists()


def test_the_admin_refuses_a_token_slack_does_not_know(admin_client, acme, fake_slack):
    response = admin_client.post(ADD_URL, add_form(acme, "xoxb-revoked"))

    [error] = _token_errors(response)
    assert error.startswith("Slack did not confirm this token, so it was not saved:")
    assert "invalid_auth" in error
    assert not SlackInstallation.objects.exists()


def test_the_admin_refuses_a_token_when_slack_cannot_be_reached(
    admin_client, acme, fake_slack, settings
):
    fake_slack.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"  # nothing listens there

    response = admin_client.post(ADD_URL, add_form(acme, ACME_TOKEN))

    [error] = _token_errors(response)
    assert "Slack could not be reached for auth.test" in error
    assert not SlackInstallation.objects.exists()


def test_the_admin_refuses_to_rotate_in_a_token_of_another_workspace(
    admin_client, acme_install, fake_slack
):
    fake_slack.tokens["xoxb-globex"] = ("TGLOBEX01", "Globex", "UBOTGLOBEX")
    url = f"/admin/hub_slack/slackinstallation/{acme_install.pk}/change/"
    stored = acme_install.bot_token
    form = {"team_name": "", "bot_user_id": "UBOTACME", "is_active": "on"}

    response = admin_client.post(url, form | {"new_bot_token": "xoxb-globex"})

    assert _token_errors(response) == [
        f"This token belongs to Slack workspace TGLOBEX01, not {ACME_TEAM}."
    ]
    acme_install.refresh_from_db()
    assert acme_install.bot_token == stored
