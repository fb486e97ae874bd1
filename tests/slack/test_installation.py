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
    client, acme, acme_install, settings
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
    assert client.post(url, form | {"new_bot_token": "xoxb-rotated"}).status_code == 302
    acme_install.refresh_from_db()
    assert credential_decrypt(acme_install.bot_token) == "xoxb-rotated"
    # Filtering on the token through the URL would be an oracle on it.
    listing = client.get("/admin/hub_slack/slackinstallation/", {"bot_token__startswith": "g"})
    assert listing.status_code == 400
