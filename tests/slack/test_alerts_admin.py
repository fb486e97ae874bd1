"""Where alerts are configured and watched: ``slack_install --alerts-…``, the console's
installation page (channel, switches, the channel's problem) and its alert list (company-scoped,
read-only, failed ones posted again); retention of the Slack tables."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hub.integrations.slack.alerts import slack_alerts_configure
from hub.integrations.slack.models import (
    AlertKind,
    AlertStatus,
    SlackAlert,
    SlackEventReceipt,
    SlackInstallation,
    SlackOAuthState,
)
from hub.ops.retention import retention_run
from hub.workers.slack_alerts import QUEUE
from tests import factories
from tests.admin.helpers import admin_url, changeform_data
from tests.slack.conftest import ACME_TEAM, ACME_TOKEN, GLOBEX_TEAM

pytestmark = pytest.mark.django_db


def install(*args: str) -> str:
    out = StringIO()
    call_command("slack_install", *args, stdout=out)
    return out.getvalue()


def alert_row(installation, *, event_id: int, status=AlertStatus.FAILED, **fields) -> SlackAlert:
    defaults = {
        "kind": AlertKind.DEAL_MOVED,
        "channel_id": "CSALES0001",
        "recipient": "channel:CSALES0001",
        "payload": {"id": 1, "title": f"{installation.company.company_name} deal"},
        "last_error": "The bot is not a member of channel CSALES0001",
        "attempts": 1,
    }
    return SlackAlert.objects.create(
        installation=installation, event_id=event_id, status=status, **(defaults | fields)
    )


def staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


# --- manage.py slack_install ---------------------------------------------------------------


def test_slack_install_sets_the_alerts_channel_and_switches_with_the_install(acme, fake_slack):
    fake_slack.tokens[ACME_TOKEN] = (ACME_TEAM, "Acme Slack", "UBOTACME")

    out = install(
        "--team", ACME_TEAM, "--company", "Acme", "--bot-token", ACME_TOKEN,
        "--alerts-channel", "C0ALERTS1", "--alerts-off", "deal_moved",
    )  # fmt: skip

    row = SlackInstallation.objects.get()
    assert (row.alerts_channel_id, row.alert_deal_moved, row.alert_deal_won) == (
        "C0ALERTS1",
        False,
        True,
    )
    assert out.splitlines() == [
        f"Slack workspace {ACME_TEAM} (Acme Slack) is connected to Acme (id {acme.pk}).",
        f"Alerts of Slack workspace {ACME_TEAM} go to channel C0ALERTS1; "
        "on: deal_won, deal_lost, assigned, missed_call; off: deal_moved.",
    ]


def test_slack_install_changes_only_the_alerts_of_a_connected_workspace(acme_install, fake_slack):
    acme_install.alerts_channel_error = "The bot is not a member of channel C0OLD0001"
    acme_install.save(update_fields=["alerts_channel_error"])
    stored_token = acme_install.bot_token

    install("--team", ACME_TEAM, "--alerts-channel", "G0PRIVATE1", "--alerts-off", "all",
            "--alerts-on", "missed_call")  # fmt: skip

    acme_install.refresh_from_db()
    assert acme_install.alerts_channel_id == "G0PRIVATE1"
    assert acme_install.alerts_channel_error == ""  # a new channel: the old problem is gone
    assert acme_install.bot_token == stored_token
    assert [acme_install.alert_missed_call, acme_install.alert_assigned] == [True, False]
    assert fake_slack.requests == []  # nothing to verify: no token was given

    out = install("--team", ACME_TEAM, "--alerts-channel", "none")
    acme_install.refresh_from_db()
    assert acme_install.alerts_channel_id == ""
    assert "have no channel" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alerts-channel", "#sales"], "not a Slack channel id"),
        (["--alerts-channel", "c0lower1"], "not a Slack channel id"),
        (["--alerts-channel", "C0\x00NUL"], "not a Slack channel id"),
        (["--alerts-on", "deal_won", "--alerts-off", "deal_won"], "both on and off"),
        (["--alerts-on", "all", "--alerts-off", "all"], "contradict"),
        (["--alerts-off", "everything"], "invalid choice"),
        ([], "nothing to do"),
        (["--company", "Acme"], "go together"),
    ],
)
def test_slack_install_refuses_bad_alert_options_in_words(acme_install, args, message):
    with pytest.raises(CommandError, match=message):
        install("--team", ACME_TEAM, *args)
    acme_install.refresh_from_db()
    assert acme_install.alerts_channel_id == ""
    assert acme_install.alert_deal_won


def test_slack_install_alerts_of_a_workspace_not_connected_are_refused(acme):
    with pytest.raises(CommandError, match="TNOTHERE1 is not connected"):
        install("--team", "TNOTHERE1", "--alerts-channel", "C0ALERTS1")
    assert not SlackInstallation.objects.exists()


# --- the installation's page ----------------------------------------------------------------


@pytest.fixture
def alice_client(client, alice):
    client.force_login(staff(alice))
    return client


def test_the_channel_problem_is_shown_on_the_list_and_the_page(alice_client, acme_install):
    acme_install.alerts_channel_error = (
        "The bot is not a member of channel C0ALERTS1: invite the app there"
    )
    acme_install.save(update_fields=["alerts_channel_error"])

    listing = alice_client.get(admin_url(SlackInstallation, "changelist")).content.decode()
    page = alice_client.get(admin_url(SlackInstallation, "change", acme_install.pk))

    assert "⚠ The bot is not a member of channel C0ALERTS1" in listing
    html = page.content.decode()
    assert "Alerts are not reaching Slack: The bot is not a member of channel C0ALERTS1" in html
    assert "⚠ The bot is not a member of channel C0ALERTS1" in html


def test_the_page_saves_the_channel_and_switches_through_the_service(alice_client, acme_install):
    acme_install.alerts_channel_error = "channel C0OLD0001 is archived"
    acme_install.save(update_fields=["alerts_channel_error"])
    url = admin_url(SlackInstallation, "change", acme_install.pk)
    data = changeform_data(alice_client.get(url))
    data.pop("alert_deal_lost")  # an unticked box is not posted

    response = alice_client.post(url, data | {"alerts_channel_id": " C0NEW0001 "})

    assert response.status_code == 302, response.context["adminform"].form.errors
    acme_install.refresh_from_db()
    assert (acme_install.alerts_channel_id, acme_install.alert_deal_lost) == ("C0NEW0001", False)
    assert acme_install.alert_deal_won
    assert acme_install.alerts_channel_error == ""

    response = alice_client.post(url, data | {"alerts_channel_id": "#general"})
    assert response.status_code == 200
    assert "not a Slack channel id" in str(response.context["adminform"].form.errors)
    acme_install.refresh_from_db()
    assert acme_install.alerts_channel_id == "C0NEW0001"


def test_saving_other_fields_keeps_the_channel_problem(alice_client, acme_install):
    slack_alerts_configure(installation=acme_install, channel_id="C0ALERTS1")
    acme_install.alerts_channel_error = "channel C0ALERTS1 is archived"
    acme_install.save(update_fields=["alerts_channel_error"])
    url = admin_url(SlackInstallation, "change", acme_install.pk)

    response = alice_client.post(url, changeform_data(alice_client.get(url)) | {"team_name": "X"})

    assert response.status_code == 302
    acme_install.refresh_from_db()
    assert (acme_install.team_name, acme_install.alerts_channel_error) == (
        "X",
        "channel C0ALERTS1 is archived",
    )


# --- the alert list ---------------------------------------------------------------------------


@pytest.fixture
def both_alerts(acme_install, globex_install):
    return alert_row(acme_install, event_id=1), alert_row(globex_install, event_id=2)


def test_staff_see_their_companys_alerts_only(alice_client, charlie, both_alerts):
    acme_alert, globex_alert = both_alerts

    response = alice_client.get(admin_url(SlackAlert, "changelist"))

    assert list(response.context["cl"].result_list) == [acme_alert]
    html = response.content.decode()
    assert "The bot is not a member of channel CSALES0001" in html
    for marker in ("Globex", GLOBEX_TEAM, charlie.email):
        assert marker not in html
    assert alice_client.get(admin_url(SlackAlert, "change", acme_alert.pk)).status_code == 200
    other = alice_client.get(admin_url(SlackAlert, "change", globex_alert.pk))
    assert other.status_code in (302, 404)
    filtered = alice_client.get(admin_url(SlackAlert, "changelist"), {"status": "failed"})
    assert list(filtered.context["cl"].result_list) == [acme_alert]


def test_a_failed_alert_is_posted_again_from_the_list(
    alice_client, both_alerts, worker, django_capture_on_commit_callbacks
):
    acme_alert, globex_alert = both_alerts
    sent = alert_row(acme_alert.installation, event_id=3, status=AlertStatus.SENT, last_error="")

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            admin_url(SlackAlert, "changelist"),
            {
                "action": "post_again",
                # Globex's, forged into the form, is left alone.
                "_selected_action": [acme_alert.pk, globex_alert.pk, sent.pk],
            },
        )

    assert response.status_code == 302
    acme_alert.refresh_from_db()
    globex_alert.refresh_from_db()
    sent.refresh_from_db()
    assert (acme_alert.status, acme_alert.attempts, acme_alert.last_error) == ("pending", 0, "")
    assert globex_alert.status == AlertStatus.FAILED
    assert sent.status == AlertStatus.SENT
    assert worker.queued(QUEUE) == 1  # the workspace's delivery, enqueued


def test_a_viewer_may_not_post_again_nor_change_or_delete(client, bob, both_alerts):
    client.force_login(staff(bob))
    acme_alert, _ = both_alerts

    listing = client.get(admin_url(SlackAlert, "changelist"))
    assert listing.context["action_form"] is None
    page = client.get(admin_url(SlackAlert, "change", acme_alert.pk))
    assert page.status_code == 200 and not page.context["has_change_permission"]
    client.post(
        admin_url(SlackAlert, "changelist"),
        {"action": "post_again", "_selected_action": [acme_alert.pk]},
    )
    assert (
        client.post(admin_url(SlackAlert, "delete", acme_alert.pk), {"post": "yes"}).status_code
        == 403
    )
    acme_alert.refresh_from_db()
    assert acme_alert.status == AlertStatus.FAILED


# --- retention --------------------------------------------------------------------------------


def test_retention_deletes_settled_alerts_old_receipts_and_used_states(acme_install, alice, acme):
    long_ago = timezone.now() - timedelta(days=31)
    old = [
        alert_row(acme_install, event_id=n, status=status)
        for n, status in enumerate(["sent", "failed", "skipped", "pending"], start=1)
    ]
    young = alert_row(acme_install, event_id=9, status=AlertStatus.SENT)
    SlackAlert.objects.filter(pk__in=[a.pk for a in old]).update(created_at=long_ago)
    receipts = [SlackEventReceipt.objects.create(event_id=f"Ev{n}") for n in range(2)]
    SlackEventReceipt.objects.filter(pk=receipts[0].pk).update(
        received_at=timezone.now() - timedelta(days=2)
    )
    states = [
        SlackOAuthState.objects.create(state=f"state-{n}", user=alice, company=acme)
        for n in range(3)
    ]
    SlackOAuthState.objects.filter(pk=states[0].pk).update(used_at=timezone.now())
    SlackOAuthState.objects.filter(pk=states[1].pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )

    results = {pruned.table: pruned.deleted for pruned in retention_run()}

    assert results["hub_slack_alert"] == 3
    assert results["hub_slack_event_receipt"] == 1
    assert results["hub_slack_oauth_state"] == 2
    assert set(SlackAlert.objects.values_list("pk", flat=True)) == {old[3].pk, young.pk}
    assert list(SlackEventReceipt.objects.values_list("pk", flat=True)) == [receipts[1].pk]
    assert list(SlackOAuthState.objects.values_list("pk", flat=True)) == [states[2].pk]


def test_the_other_slack_tables_have_console_pages(client, acme_install, alice):
    client.force_login(factories.UserFactory(is_staff=True, is_superuser=True))
    SlackEventReceipt.objects.create(event_id="Ev1", event_type="app_home_opened")
    state = SlackOAuthState.objects.create(
        state="secret-state-1", user=alice, company=acme_install.company
    )

    receipts = client.get(admin_url(SlackEventReceipt, "changelist"))
    states = client.get(admin_url(SlackOAuthState, "change", state.pk))

    assert receipts.status_code == 200 and "app_home_opened" in receipts.content.decode()
    assert states.status_code == 200 and "secret-state-1" not in states.content.decode()
