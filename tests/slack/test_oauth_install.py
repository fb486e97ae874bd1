""" "Add to Slack": ``/slack/install`` → Slack's authorize page → ``/slack/oauth_redirect``.

The browser side is Django's test client, signed in with ``force_login``; Slack's side is the
loopback fake (``oauth.v2.access`` answers the codes registered in ``fake_slack.oauth_codes``).
"""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser
from hub.domain.emails.crypto import credential_decrypt
from hub.integrations.slack.models import SlackInstallation, SlackOAuthState, SlackUserLink
from hub.integrations.slack.oauth import BOT_SCOPES
from tests import factories
from tests.slack.conftest import GLOBEX_TEAM, SlackUser

pytestmark = pytest.mark.django_db

CLIENT_ID, CLIENT_SECRET = "1111.2222", "oauth-test-client-secret"
TEAM, TOKEN = "TNEWTEAM1", "xoxb-new-team-0001"
REDIRECT_URI = "https://hub.example.test/slack/oauth_redirect"


@pytest.fixture(autouse=True)
def oauth_settings(settings, fake_slack):
    settings.HUB_PUBLIC_URL = "https://hub.example.test"
    settings.SLACK_CLIENT_ID = CLIENT_ID
    settings.SLACK_CLIENT_SECRET = CLIENT_SECRET
    settings.SLACK_AUTHORIZE_URL = f"{fake_slack.url}/oauth/v2/authorize"
    settings.SLACK_OAUTH_STATE_TTL_SECONDS = 600
    fake_slack.oauth_client = (CLIENT_ID, CLIENT_SECRET)
    return settings


def slack_answer(**changes: Any) -> dict[str, Any]:
    """What Slack's ``oauth.v2.access`` gives for a bot install into one workspace."""
    answer = {
        "access_token": TOKEN,
        "token_type": "bot",
        "scope": ",".join(BOT_SCOPES),
        "bot_user_id": "UBOTNEW01",
        "app_id": "A0HUB0001",
        "team": {"id": TEAM, "name": "New Team"},
        "enterprise": None,
        "authed_user": {"id": "UINSTALL1"},
        "is_enterprise_install": False,
    }
    return answer | changes


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start(client: Client, company) -> str:
    """Choose the company and press "Add to Slack"; the ``state`` Slack is sent with."""
    response = client.post("/slack/install", {"company": str(company.pk)})
    assert response.status_code == 302, response.content.decode()
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def come_back(client: Client, **query: str):
    """Slack sends the browser back to the hub."""
    return client.get("/slack/oauth_redirect", query)


def exchanges(fake_slack) -> list:
    return fake_slack.api_calls("oauth.v2.access")


# --- the whole flow -------------------------------------------------------------------------
def test_the_whole_install_connects_the_workspace_with_its_token_encrypted(
    client, fake_slack, acme, alice
):
    browser = signed_in(alice)

    page = browser.get("/slack/install")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme" in html and "Add to Slack" in html
    assert f'value="{acme.pk}" required checked' in html  # the only company: chosen already
    assert "csrfmiddlewaretoken" in html

    sent = browser.post("/slack/install", {"company": str(acme.pk)})
    assert sent.status_code == 302
    authorize = urlsplit(sent["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        settings.SLACK_AUTHORIZE_URL
    )
    query = parse_qs(authorize.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["scope"][0].split(",") == list(BOT_SCOPES)
    assert query["redirect_uri"] == [REDIRECT_URI]
    [state] = query["state"]
    stored_state = SlackOAuthState.objects.get()
    assert (stored_state.state, stored_state.user, stored_state.company) == (state, alice, acme)

    fake_slack.oauth_codes["code-1"] = slack_answer()
    done = come_back(browser, code="code-1", state=state)

    assert done.status_code == 200
    html = done.content.decode()
    assert "New Team" in html and TEAM in html and "Acme" in html
    assert "alerts channel" in html and "--alerts-channel" in html
    [exchange] = exchanges(fake_slack)
    assert exchange.body["code"] == "code-1"
    assert exchange.body["redirect_uri"] == REDIRECT_URI
    assert (exchange.body["client_id"], exchange.body["client_secret"]) == (
        CLIENT_ID,
        CLIENT_SECRET,
    )
    row = SlackInstallation.objects.get()
    assert (row.team_id, row.team_name, row.company, row.bot_user_id, row.is_active) == (
        TEAM,
        "New Team",
        acme,
        "UBOTNEW01",
        True,
    )
    assert (row.app_id, row.enterprise_id, row.installed_by, row.installer_slack_user_id) == (
        "A0HUB0001",
        "",
        alice,
        "UINSTALL1",
    )
    assert row.bot_scopes.split(",") == list(BOT_SCOPES)
    assert TOKEN not in row.bot_token
    assert credential_decrypt(row.bot_token) == TOKEN
    stored_state.refresh_from_db()
    assert stored_state.used_at is not None

    # The workspace now answers a signed command with the token the install stored.
    fake_slack.tokens[TOKEN] = (TEAM, "New Team", "UBOTNEW01")
    fake_slack.users["UALICE01"] = alice.email
    member = SlackUser(client, fake_slack, team_id=TEAM, user_id="UALICE01")
    answer = member.command("Nobody Of That Name")
    assert answer.status_code == 200
    text = answer.json()["text"]
    assert "not connected" not in text and "could not look you up" not in text
    [lookup] = fake_slack.api_calls("users.info")
    assert lookup.token == TOKEN
    assert SlackUserLink.objects.get().user == alice


def test_the_install_page_asks_to_sign_in_first(client):
    response = client.get("/slack/install")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/slack/install"


def test_slack_coming_back_to_a_signed_out_browser_asks_to_sign_in_and_keeps_the_code(
    client, acme, alice, fake_slack
):
    state = start(signed_in(alice), acme)
    response = come_back(client, code="code-1", state=state)
    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == "/admin/login/"
    back = parse_qs(login.query)["next"][0]
    assert parse_qs(urlsplit(back).query) == {"code": ["code-1"], "state": [state]}
    assert exchanges(fake_slack) == []
    assert SlackOAuthState.objects.get().used_at is None


def test_a_manager_of_several_companies_chooses_one(acme, globex, fake_slack):
    manager = factories.CompanyUserFactory(company=acme, role="manager").user
    factories.CompanyUserFactory(company=globex, role="ceo", user=manager)
    browser = signed_in(manager)

    html = browser.get("/slack/install").content.decode()
    assert "Acme" in html and "Globex" in html and "checked" not in html

    missing = browser.post("/slack/install", {})
    assert missing.status_code == 400
    assert "Choose the company" in missing.content.decode()
    assert not SlackOAuthState.objects.exists()

    state = start(browser, globex)
    fake_slack.oauth_codes["code-g"] = slack_answer()
    assert come_back(browser, code="code-g", state=state).status_code == 200
    assert SlackInstallation.objects.get().company == globex


def test_the_install_form_is_csrf_protected(acme, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    response = browser.post("/slack/install", {"company": str(acme.pk)})
    assert response.status_code == 403
    assert not SlackOAuthState.objects.exists()


# --- who may install ------------------------------------------------------------------------
def test_a_member_who_is_not_ceo_or_manager_is_refused_and_told_why(acme, bob):
    browser = signed_in(bob)

    page = browser.get("/slack/install")
    assert page.status_code == 403
    assert "Only a company's CEO or a manager can add the hub to Slack" in page.content.decode()

    posted = browser.post("/slack/install", {"company": str(acme.pk)})
    assert posted.status_code == 403
    assert not SlackOAuthState.objects.exists()


def test_a_former_ceo_is_refused(acme, alice):
    CompanyUser.objects.filter(user=alice, company=acme).update(is_active=False)
    assert signed_in(alice).get("/slack/install").status_code == 403


@pytest.mark.parametrize("posted", ["globex", "0", "abc", "1\x00", "9" * 40, " "])
def test_a_company_posted_by_hand_that_is_not_theirs_is_refused(acme, alice, globex, posted):
    value = str(globex.pk) if posted == "globex" else posted
    response = signed_in(alice).post("/slack/install", {"company": value})
    assert response.status_code in (400, 403)
    assert not SlackOAuthState.objects.exists()
    if posted == "globex":
        assert response.status_code == 403
        assert "not its CEO or a manager" in response.content.decode()


def test_an_installer_who_lost_the_role_meanwhile_connects_nothing(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    CompanyUser.objects.filter(user=alice, company=acme).update(role="support_staff")
    fake_slack.oauth_codes["code-1"] = slack_answer()

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 403
    assert "no longer the CEO or a manager of Acme" in response.content.decode()
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()


# --- the state ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "state",
    ["forged-state-that-the-hub-never-issued-0123", "", "short", "\x00" * 43, "é" * 43, "x" * 5000],
)
def test_a_forged_state_is_refused_and_nothing_is_stored(acme, alice, fake_slack, state):
    browser = signed_in(alice)
    start(browser, acme)  # a real install under way does not make another state good
    fake_slack.oauth_codes["code-1"] = slack_answer()

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 400
    assert "nothing was connected" in response.content.decode()
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()


def test_an_expired_state_is_refused(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    SlackOAuthState.objects.update(created_at=timezone.now() - timedelta(seconds=601))
    fake_slack.oauth_codes["code-1"] = slack_answer()

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 400
    assert "expired (it works for 10 minutes)" in response.content.decode()
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()


def test_a_state_works_once(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer()
    fake_slack.oauth_codes["code-2"] = slack_answer(access_token="xoxb-second-token")
    assert come_back(browser, code="code-1", state=state).status_code == 200

    again = come_back(browser, code="code-2", state=state)

    assert again.status_code == 400
    assert "used already" in again.content.decode()
    assert len(exchanges(fake_slack)) == 1
    assert credential_decrypt(SlackInstallation.objects.get().bot_token) == TOKEN


def test_a_state_issued_to_another_user_is_refused_and_stays_theirs(
    acme, alice, charlie, fake_slack
):
    alice_browser = signed_in(alice)
    state = start(alice_browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer()

    response = come_back(signed_in(charlie), code="code-1", state=state)

    assert response.status_code == 400
    assert "started by another hub user" in response.content.decode()
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()
    # The one who started it can still finish it.
    assert come_back(alice_browser, code="code-1", state=state).status_code == 200
    assert SlackInstallation.objects.get().company == acme


# --- what Slack says ------------------------------------------------------------------------
def test_cancelling_in_slack_connects_nothing_and_says_so(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)

    response = come_back(browser, error="access_denied", state=state)

    assert response.status_code == 200
    assert "You cancelled the install in Slack" in response.content.decode()
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()
    assert SlackOAuthState.objects.get().used_at is not None


def test_another_error_from_slack_is_shown_escaped(acme, alice):
    browser = signed_in(alice)
    state = start(browser, acme)
    response = come_back(browser, error="<script>bad</script>", state=state)
    assert response.status_code == 400
    html = response.content.decode()
    assert "<script>" not in html and "&lt;script&gt;bad" in html
    assert not SlackInstallation.objects.exists()


@pytest.mark.parametrize(
    ("setup", "slack_error"),
    [
        ("unknown code", "invalid_code"),
        ("wrong secret", "bad_client_secret"),
    ],
)
def test_a_failing_exchange_stores_nothing_and_shows_slacks_error(
    acme, alice, fake_slack, setup, slack_error
):
    browser = signed_in(alice)
    state = start(browser, acme)
    if setup == "wrong secret":
        fake_slack.oauth_client = (CLIENT_ID, "another-secret")
        fake_slack.oauth_codes["code-1"] = slack_answer()

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 502
    assert f"Slack did not complete the install ({slack_error})" in response.content.decode()
    assert not SlackInstallation.objects.exists()


def test_slack_unreachable_is_a_failing_exchange(acme, alice, settings):
    browser = signed_in(alice)
    state = start(browser, acme)
    with socket.socket() as closed:  # a port nothing listens on once closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.SLACK_API_URL = f"http://127.0.0.1:{port}/api/"

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 502
    assert "Slack did not complete the install" in response.content.decode()
    assert not SlackInstallation.objects.exists()


def test_an_org_wide_enterprise_install_is_refused(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer(
        team=None, enterprise={"id": "E0ORG0001", "name": "Org"}, is_enterprise_install=True
    )

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 400
    assert "whole Enterprise Grid organization" in response.content.decode()
    assert not SlackInstallation.objects.exists()


def test_a_workspace_of_an_enterprise_grid_is_taken_with_its_enterprise(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer(enterprise={"id": "E0ORG0001", "name": "Org"})
    assert come_back(browser, code="code-1", state=state).status_code == 200
    assert SlackInstallation.objects.get().enterprise_id == "E0ORG0001"


def test_token_rotation_is_refused(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer(
        access_token="xoxe.xoxb-1-rotating", refresh_token="xoxe-1-refresh", expires_in=43200
    )
    response = come_back(browser, code="code-1", state=state)
    assert response.status_code == 400
    assert "token rotation" in response.content.decode()
    assert not SlackInstallation.objects.exists()


def test_a_redirect_without_a_code_connects_nothing(acme, alice, fake_slack):
    browser = signed_in(alice)
    state = start(browser, acme)
    response = come_back(browser, state=state)
    assert response.status_code == 400
    assert exchanges(fake_slack) == []
    assert not SlackInstallation.objects.exists()


# --- a workspace that was connected before --------------------------------------------------
def test_a_workspace_of_another_company_moves_to_the_installers_company(
    acme, alice, globex_install, fake_slack
):
    SlackUserLink.objects.create(
        installation=globex_install,
        slack_user_id="UCHARLIE1",
        user=globex_install.company.created_by,
        email="charlie@example.com",
    )
    globex_install.alerts_channel_id = "CGLOBEX01"
    globex_install.save()
    browser = signed_in(alice)
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer(
        team={"id": GLOBEX_TEAM, "name": "Globex Slack"}
    )

    response = come_back(browser, code="code-1", state=state)

    assert response.status_code == 200
    html = response.content.decode()
    assert "another company on the hub" in html and "Globex" not in html.replace("Globex Slack", "")
    row = SlackInstallation.objects.get()
    assert (row.pk, row.company, row.alerts_channel_id) == (globex_install.pk, acme, "")
    assert credential_decrypt(row.bot_token) == TOKEN
    assert not SlackUserLink.objects.exists()


def test_reinstalling_a_workspace_renews_its_token_and_keeps_its_alerts(
    acme, alice, acme_install, fake_slack
):
    acme_install.alerts_channel_id = "CACME0001"
    acme_install.save()
    browser = signed_in(alice)
    assert "Connected already" in browser.get("/slack/install").content.decode()
    state = start(browser, acme)
    fake_slack.oauth_codes["code-1"] = slack_answer(team={"id": acme_install.team_id})

    assert come_back(browser, code="code-1", state=state).status_code == 200

    row = SlackInstallation.objects.get()
    assert (row.company, row.alerts_channel_id) == (acme, "CACME0001")
    assert credential_decrypt(row.bot_token) == TOKEN


# --- settings -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/slack/install", "/slack/oauth_redirect?code=c&state=s"])
def test_without_the_apps_client_id_and_secret_the_pages_name_them(acme, alice, settings, path):
    settings.SLACK_CLIENT_ID = ""
    settings.SLACK_CLIENT_SECRET = None
    response = signed_in(alice).get(path)
    assert response.status_code == 503
    html = response.content.decode()
    assert "SLACK_CLIENT_ID" in html and "SLACK_CLIENT_SECRET" in html
    assert not SlackInstallation.objects.exists()
