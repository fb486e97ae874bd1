"""slack_sdk's OAuth interfaces on the hub's tables: the state store and the installation store."""

from __future__ import annotations

import pytest
from slack_sdk.oauth.installation_store import Installation

from hub.domain.emails.crypto import credential_decrypt
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.oauth import BOT_SCOPES, HubInstallationStore, HubOAuthStateStore

pytestmark = pytest.mark.django_db

TEAM, TOKEN = "TNEWTEAM1", "xoxb-new-team-0001"


def test_the_state_store_issues_for_its_user_and_company_and_consumes_once(acme, alice, bob):
    state = HubOAuthStateStore(user=alice, company=acme).issue()

    assert HubOAuthStateStore(user=bob).consume(state) is False  # not bob's to take
    assert HubOAuthStateStore(user=alice).consume(state) is True
    assert HubOAuthStateStore(user=alice).consume(state) is False
    assert HubOAuthStateStore(user=alice).consume("\x00") is False


def test_the_installation_store_saves_finds_and_turns_off_a_workspace(acme, alice, fake_slack):
    store = HubInstallationStore(company=acme, installed_by=alice)
    store.save(
        Installation(
            app_id="A0HUB0001",
            team_id=TEAM,
            team_name="New Team",
            bot_token=TOKEN,
            bot_user_id="UBOTNEW01",
            bot_scopes=list(BOT_SCOPES),
            user_id="UINSTALL1",
        )
    )

    row = SlackInstallation.objects.get()
    assert (row.company, row.installed_by, credential_decrypt(row.bot_token)) == (
        acme,
        alice,
        TOKEN,
    )
    bot = HubInstallationStore().find_bot(enterprise_id=None, team_id=TEAM)
    assert bot is not None
    assert (bot.bot_token, bot.bot_user_id, bot.team_id, list(bot.bot_scopes)) == (
        TOKEN,
        "UBOTNEW01",
        TEAM,
        list(BOT_SCOPES),
    )
    assert HubInstallationStore().find_bot(enterprise_id=None, team_id="TOTHER001") is None
    assert (
        HubInstallationStore().find_bot(
            enterprise_id="E0ORG0001", team_id=None, is_enterprise_install=True
        )
        is None
    )

    HubInstallationStore().delete_all(enterprise_id=None, team_id=TEAM)

    row.refresh_from_db()
    assert row.is_active is False
    assert HubInstallationStore().find_installation(enterprise_id=None, team_id=TEAM) is None
