"""``manage.py email_credentials_rotate``: every stored credential moves to the newest key."""

from __future__ import annotations

import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from hub.domain.emails.credentials import credentials_reencrypt_all
from hub.domain.emails.crypto import CredentialError, credential_decrypt
from hub.domain.emails.models import EmailAccount
from hub.domain.emails.services import email_account_create
from hub.integrations.slack.models import SlackInstallation
from hub.integrations.slack.services import slack_bot_token, slack_installation_register
from tests import factories

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
UNKNOWN_KEY = Fernet.generate_key().decode()

PASSWORDS = {"one@acme.test": "pa55-one-e81b", "two@acme.test": "pa55-two-41c9"}
OAUTH = "ya29.oauth-secret-0d3f"
BOT_TOKEN = "xoxb-acme-bot-secret-77aa"


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("email_credentials_rotate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def stored(settings, acme, alice):
    """Two mailboxes (one with an OAuth token) and a Slack workspace, all under key A."""
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_A]
    accounts = [
        email_account_create(
            company=acme,
            user=alice,
            email=address,
            provider="imap",
            username=address,
            password=password,
            oauth_token=OAUTH if address.startswith("one") else None,
        )
        for address, password in PASSWORDS.items()
    ]
    slack = slack_installation_register(team_id="TACME01", company=acme, bot_token=BOT_TOKEN)
    return accounts, slack


def tokens() -> dict[tuple[str, int], str | None]:
    found: dict[tuple[str, int], str | None] = {}
    for account in EmailAccount.objects.order_by("pk"):
        found[("password", account.pk)] = account.password
        found[("oauth_token", account.pk)] = account.oauth_token
    for slack in SlackInstallation.objects.order_by("pk"):
        found[("bot_token", slack.pk)] = slack.bot_token
    return found


def assert_everything_decrypts() -> None:
    for account in EmailAccount.objects.all():
        assert credential_decrypt(account.password) == PASSWORDS[account.email]
        if account.email.startswith("one"):
            assert credential_decrypt(account.oauth_token) == OAUTH
        else:
            assert account.oauth_token is None
    assert slack_bot_token(SlackInstallation.objects.get()) == BOT_TOKEN


def secrets(before: dict) -> list[str]:
    return [*PASSWORDS.values(), OAUTH, BOT_TOKEN, *(t for t in before.values() if t)]


def test_rotation_moves_everything_to_the_newest_key(settings, stored, caplog):
    caplog.set_level(logging.DEBUG)
    before = tokens()
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    out, err = run()

    after = tokens()
    assert all(after[k] != before[k] for k in before if before[k] is not None)
    assert (
        "emails_emailaccount: re-encrypted 2 rows (0 already under the newest key), 0 failed" in out
    )
    assert "hub_slack_installation: re-encrypted 1 rows (0 already under the newest key)" in out
    assert "Total: rotated 3, already current 0" in out and "failed 0" in out
    assert err == ""
    for secret in [*secrets(before), *(t for t in after.values() if t)]:
        assert secret not in out + err + caplog.text

    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B]  # the old key dropped
    assert_everything_decrypts()
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_A]  # and the old key alone no longer reads them
    with pytest.raises(CredentialError):
        credential_decrypt(EmailAccount.objects.first().password)


def test_a_row_no_key_decrypts_is_reported_and_the_rest_rotate(settings, stored, acme, alice):
    settings.EMAIL_ENCRYPTION_KEYS = [UNKNOWN_KEY]
    lost = email_account_create(
        company=acme,
        user=alice,
        email="lost@acme.test",
        provider="imap",
        username="lost@acme.test",
        password="pa55-lost-19fe",
    )
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    before = tokens()

    with pytest.raises(CommandError, match="1 row"):
        run()

    after = tokens()
    assert after[("password", lost.pk)] == before[("password", lost.pk)]  # untouched
    assert [k for k in before if before[k] is not None and after[k] == before[k]] == [
        ("password", lost.pk)
    ]
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B]
    for account in EmailAccount.objects.exclude(pk=lost.pk):
        assert credential_decrypt(account.password) == PASSWORDS[account.email]
    assert slack_bot_token(SlackInstallation.objects.get()) == BOT_TOKEN


def test_the_failure_is_named_and_the_exit_status_is_one(settings, stored, capsys):
    settings.EMAIL_ENCRYPTION_KEYS = [UNKNOWN_KEY]
    slack = SlackInstallation.objects.get()
    slack.bot_token = Fernet(UNKNOWN_KEY).encrypt(b"xoxb-under-another-key").decode()
    slack.save(update_fields=["bot_token"])
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    with pytest.raises(SystemExit) as exit:
        execute_from_command_line(["manage.py", "email_credentials_rotate"])

    assert exit.value.code == 1
    out, err = capsys.readouterr()
    assert f"hub_slack_installation row {slack.pk} (bot_token): no key" in err
    assert "left untouched" in err
    assert "emails_emailaccount: re-encrypted 2 rows" in out
    assert "xoxb-under-another-key" not in out + err
    assert slack.bot_token not in out + err


def test_a_partly_readable_row_is_left_whole(settings, stored):
    account = stored[0][0]
    settings.EMAIL_ENCRYPTION_KEYS = [UNKNOWN_KEY]
    account.oauth_token = Fernet(UNKNOWN_KEY).encrypt(b"other-oauth").decode()
    account.save(update_fields=["oauth_token"])
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    password = EmailAccount.objects.get(pk=account.pk).password

    result = credentials_reencrypt_all()

    assert (result.rotated, result.failed) == (1, 1)
    [failure] = result.failures
    assert (failure.table, failure.row_id, failure.columns) == (
        "emails_emailaccount",
        account.pk,
        ("oauth_token",),
    )
    account.refresh_from_db()
    assert account.password == password  # the readable column is not rewritten alone either


def test_garbage_in_a_credential_column_is_a_failure_not_a_crash(settings, stored):
    EmailAccount.objects.filter(email="two@acme.test").update(password="not a fernet token ∆")
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    result = credentials_reencrypt_all()

    assert (result.rows, result.rotated, result.failed) == (2, 1, 1)


def test_dry_run_counts_and_writes_nothing(settings, stored):
    before = tokens()
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    out, _ = run("--dry-run")

    assert tokens() == before
    assert "dry run: nothing is written" in out
    assert "emails_emailaccount: would re-encrypt 2 rows" in out
    assert "Total: would re-encrypt 3" in out


def test_running_again_is_harmless_and_counts_rows_already_current(settings, stored):
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    run()
    out, _ = run()

    assert "emails_emailaccount: re-encrypted 2 rows (2 already under the newest key)" in out
    assert "Total: rotated 3, already current 3" in out
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B]
    assert_everything_decrypts()


def test_progress_after_each_batch(settings, acme, alice):
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_A]
    for _ in range(5):
        factories.EmailAccountFactory(
            company=acme, user=alice, password=Fernet(KEY_A).encrypt(b"p").decode()
        )
    # A row whose credential columns are empty has nothing to rotate.
    factories.EmailAccountFactory(company=acme, user=alice, password="")
    settings.EMAIL_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    out, _ = run("--batch-size", "2")

    progress = [line.strip() for line in out.splitlines() if "rows done" in line]
    assert progress == [
        "emails_emailaccount: 2 rows done (2 re-encrypted, 0 failed)",
        "emails_emailaccount: 4 rows done (4 re-encrypted, 0 failed)",
        "emails_emailaccount: 5 rows done (5 re-encrypted, 0 failed)",
    ]
    assert "emails_emailaccount: re-encrypted 5 rows" in out


def test_without_a_key_the_command_says_so(settings, stored):
    settings.EMAIL_ENCRYPTION_KEYS = []
    with pytest.raises(CommandError, match="EMAIL_ENCRYPTION_KEY is not set"):
        run()


def test_a_bad_batch_size_is_refused(stored):
    with pytest.raises(CommandError, match="--batch-size"):
        run("--batch-size", "0")
