"""The mail pages of the console: the engine's tables, an account's sync, an e-mail's delivery,
a rule's problems, and credentials that no page, list, history or log ever shows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import dramatiq
import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone
from dramatiq.brokers.stub import StubBroker

from hub.domain.emails.crypto import credential_decrypt
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailDelivery,
    EmailLink,
    EmailRule,
    EmailRuleProblem,
    EmailSyncLog,
    EmailThreadRef,
    MailFolderCursor,
    MailSyncState,
)
from hub.integrations.slack.models import SlackInstallation
from tests import factories
from tests.admin.helpers import admin_url, changeform_data, mailbox_password, registered_models

pytestmark = pytest.mark.django_db

MAIL_MODELS = [
    MailFolderCursor,
    MailSyncState,
    EmailThreadRef,
    EmailDelivery,
    EmailLink,
    EmailRuleProblem,
]
ROW_KEYS = {
    MailFolderCursor: "folder_cursor",
    MailSyncState: "sync_state",
    EmailThreadRef: "thread_ref",
    EmailDelivery: "delivery",
    EmailLink: "link",
    EmailRuleProblem: "rule_problem",
}


def request_for(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def viewer_client(client, acme):
    """Support staff at Acme: may look at its mail rows, change none."""
    user = staff(factories.CompanyUserFactory(company=acme, role="support_staff").user)
    client.force_login(user)
    return client


@pytest.fixture
def queued() -> Iterator[StubBroker]:
    """A fresh stub broker; ``use(actor)`` puts an actor on it, so what a page enqueues for that
    actor waits there."""
    broker = StubBroker()
    originals: list[tuple[dramatiq.Actor, dramatiq.Broker]] = []

    def use(actor: dramatiq.Actor) -> dramatiq.Actor:
        originals.append((actor, actor.broker))
        actor.broker = broker
        broker.declare_actor(actor)
        return actor

    broker.use = use  # type: ignore[attr-defined]
    yield broker
    for actor, original in originals:
        actor.broker = original
    broker.close()


@pytest.fixture
def send_queue(queued):
    from hub.workers.mail_send import mail_send

    return queued.use(mail_send)


@pytest.fixture
def sync_queue(queued):
    from hub.workers.mail_sync import mail_sync_account

    return queued.use(mail_sync_account)


def messages_of(broker: StubBroker, actor) -> list[dramatiq.Message]:
    queue = broker.queues.get(actor.queue_name)
    return [dramatiq.Message.decode(data) for data in list(queue.queue)] if queue else []


def page_text(client, url, **query) -> str:
    response = client.get(url, query)
    assert response.status_code == 200, url
    return response.content.decode()


# --- credentials ------------------------------------------------------------------------------


def credentials_of(rows) -> list[str]:
    account, slack = rows["account"], rows["slack_installation"]
    return [
        account.password,
        account.oauth_token,
        credential_decrypt(account.password),
        credential_decrypt(account.oauth_token),
        slack.bot_token,
        credential_decrypt(slack.bot_token),
    ]


def test_no_page_list_or_history_shows_a_credential(superuser_client, acme_rows, caplog):
    caplog.set_level(logging.DEBUG)
    secrets = credentials_of(acme_rows)
    assert mailbox_password("Acme") in secrets
    account = acme_rows["account"]
    # A change through the admin puts an entry in the history.
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url)) | {"new_password": "n3w-pa55-history"}
    assert superuser_client.post(url, data).status_code == 302
    account.refresh_from_db()
    secrets += [account.password, "n3w-pa55-history"]

    checked = 0
    for model in registered_models():
        pages = [admin_url(model, "changelist")]
        for row in model._default_manager.all()[:3]:
            pages += [
                admin_url(model, "change", row.pk),
                admin_url(model, "history", row.pk),
                admin_url(model, "delete", row.pk),
            ]
        for page in pages:
            html = superuser_client.get(page).content.decode()
            for secret in secrets:
                assert secret not in html, f"a credential on {page}"
            checked += 1
    assert checked > 100
    html = page_text(superuser_client, admin_url(EmailAccount, "history", account.pk))
    assert "New password" in html  # the change is in the history, its value is not
    for secret in secrets:
        assert secret not in caplog.text


def test_the_account_form_has_only_write_only_credential_fields(superuser_client, acme_rows):
    account = acme_rows["account"]
    response = superuser_client.get(admin_url(EmailAccount, "change", account.pk))
    form = response.context["adminform"].form
    assert "password" not in form.fields and "oauth_token" not in form.fields
    for name in ("new_password", "new_oauth_token"):
        assert form.fields[name].widget.render_value is False
        assert form[name].value() in (None, "")


def test_the_slack_token_cannot_be_probed_either(superuser_client, acme_rows):
    token = acme_rows["slack_installation"].bot_token
    url = admin_url(SlackInstallation, "changelist")
    assert superuser_client.get(url, {"bot_token__startswith": token[:5]}).status_code == 400
    # Nor through a page of a row that leads to the account.
    url = admin_url(MailFolderCursor, "changelist")
    probe = {"account__password__startswith": acme_rows["account"].password[:5]}
    assert superuser_client.get(url, probe).status_code == 400


# --- the engine's tables: scoped and read-only ------------------------------------------------


@pytest.mark.parametrize("model", MAIL_MODELS, ids=lambda m: m.__name__)
def test_staff_see_their_company_rows_only(bob_client, staff_bob, model, acme_rows, globex_rows):
    key = ROW_KEYS[model]
    response = bob_client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [acme_rows[key]]
    assert "Globex" not in response.content.decode()
    own = bob_client.get(admin_url(model, "change", acme_rows[key].pk))
    assert own.status_code == 200
    assert "Acme" in own.content.decode()
    other = bob_client.get(admin_url(model, "change", globex_rows[key].pk))
    assert other.status_code in (302, 404)

    model_admin = admin.site.get_model_admin(model)
    request = request_for(staff_bob)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, acme_rows[key])
    assert not model_admin.has_delete_permission(request, acme_rows[key])
    assert (
        bob_client.post(admin_url(model, "delete", acme_rows[key].pk), {"post": "yes"}).status_code
        == 403
    )
    assert model._default_manager.filter(pk=acme_rows[key].pk).exists()


def test_pages_show_what_the_engine_recorded(superuser_client, acme_rows):
    html = page_text(superuser_client, admin_url(MailSyncState, "changelist"))
    assert "Acme mailbox refused the login" in html
    html = page_text(superuser_client, admin_url(EmailDelivery, "changelist"))
    assert "Acme SMTP said 550 mailbox unavailable" in html
    html = page_text(superuser_client, admin_url(MailFolderCursor, "changelist"))
    assert "Acme Inbox" in html
    html = page_text(superuser_client, admin_url(MailSyncState, "change", acme_rows["account"].pk))
    assert "lease_token" not in html


# --- Resync folder ----------------------------------------------------------------------------


def test_resync_deletes_the_cursors_of_the_company_only(bob_client, acme_rows, globex_rows):
    acme_cursor, globex_cursor = acme_rows["folder_cursor"], globex_rows["folder_cursor"]
    sent = MailFolderCursor.objects.create(
        account=acme_rows["account"], role="sent", name="Sent", uidvalidity=3, last_uid=9
    )

    response = bob_client.post(
        admin_url(MailFolderCursor, "changelist"),
        {"action": "resync_folder", "_selected_action": [acme_cursor.pk, globex_cursor.pk]},
        follow=True,
    )

    assert "1 folder(s) will be read again" in response.content.decode()
    assert not MailFolderCursor.objects.filter(pk=acme_cursor.pk).exists()
    assert MailFolderCursor.objects.filter(pk=globex_cursor.pk).exists()  # forged: left alone
    assert MailFolderCursor.objects.filter(pk=sent.pk).exists()  # not picked


def test_resync_leaves_a_folder_whose_mailbox_is_syncing(superuser_client, acme_rows):
    cursor = acme_rows["folder_cursor"]
    MailSyncState.objects.filter(account=cursor.account).update(
        lease_until=timezone.now() + timedelta(minutes=5), lease_token="run-1"
    )
    url = admin_url(MailFolderCursor, "changelist")
    post = {"action": "resync_folder", "_selected_action": [cursor.pk]}

    html = superuser_client.post(url, post, follow=True).content.decode()

    assert "syncing right now" in html
    assert MailFolderCursor.objects.filter(pk=cursor.pk).exists()

    # A lease run out is no longer a sync under way.
    MailSyncState.objects.filter(account=cursor.account).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )
    superuser_client.post(url, post)
    assert not MailFolderCursor.objects.filter(pk=cursor.pk).exists()


def test_a_viewer_cannot_resync(viewer_client, acme_rows):
    cursor = acme_rows["folder_cursor"]
    listing = viewer_client.get(admin_url(MailFolderCursor, "changelist"))
    assert listing.status_code == 200
    assert listing.context["action_form"] is None
    viewer_client.post(
        admin_url(MailFolderCursor, "changelist"),
        {"action": "resync_folder", "_selected_action": [cursor.pk]},
    )
    assert MailFolderCursor.objects.filter(pk=cursor.pk).exists()


# --- Retry now --------------------------------------------------------------------------------


def test_retry_now_puts_failed_deliveries_back_and_enqueues_them(
    bob_client, acme_rows, globex_rows, queued, send_queue, django_capture_on_commit_callbacks
):
    failed, other = acme_rows["delivery"], globex_rows["delivery"]
    sent_email = factories.EmailFactory(
        email_account=acme_rows["account"], direction="outbound", status="sent"
    )
    done = EmailDelivery.objects.create(email=sent_email, state="sent", attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(
            admin_url(EmailDelivery, "changelist"),
            {"action": "retry_now", "_selected_action": [failed.pk, other.pk, done.pk]},
        )

    assert response.status_code == 302
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.claimed_until) == ("pending", 0, None)
    assert Email.objects.get(pk=failed.pk).status == "queued"
    other.refresh_from_db()
    assert other.state == "failed"  # Globex's, forged into the form
    assert Email.objects.get(pk=other.pk).status == "failed"
    done.refresh_from_db()
    assert done.state == "sent"
    [message] = messages_of(queued, send_queue)
    assert message.kwargs == {"email_id": failed.pk}


def test_retry_now_on_nothing_failed_says_so(superuser_client, acme_rows, queued, send_queue):
    delivery = acme_rows["delivery"]
    EmailDelivery.objects.filter(pk=delivery.pk).update(state="pending")
    response = superuser_client.post(
        admin_url(EmailDelivery, "changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
        follow=True,
    )
    assert "None of those deliveries had failed." in response.content.decode()
    assert messages_of(queued, send_queue) == []


def test_a_viewer_cannot_retry(viewer_client, acme_rows, queued, send_queue):
    delivery = acme_rows["delivery"]
    listing = viewer_client.get(admin_url(EmailDelivery, "changelist"))
    assert listing.context["action_form"] is None
    viewer_client.post(
        admin_url(EmailDelivery, "changelist"),
        {"action": "retry_now", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert delivery.state == "failed"


# --- the account's sync -----------------------------------------------------------------------


def test_sync_now_enqueues_the_company_mailboxes(
    bob_client,
    acme,
    alice,
    acme_rows,
    globex_rows,
    queued,
    sync_queue,
    django_capture_on_commit_callbacks,
):
    own, other = acme_rows["account"], globex_rows["account"]
    EmailAccount.objects.filter(pk__in=[own.pk, other.pk]).update(imap_host="imap.mail.test")
    no_server = factories.EmailAccountFactory(company=acme, user=alice, imap_host=None)
    sync_off = factories.EmailAccountFactory(
        company=acme, user=alice, imap_host="imap.mail.test", sync_enabled=False
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(
            admin_url(EmailAccount, "changelist"),
            {
                "action": "sync_now",
                "_selected_action": [own.pk, other.pk, no_server.pk, sync_off.pk],
            },
            follow=True,
        )

    html = response.content.decode()
    assert "A sync of 1 mailbox(es) is queued." in html
    assert "2 mailbox(es) not synced: inactive, sync turned off, or no IMAP server." in html
    assert [m.kwargs for m in messages_of(queued, sync_queue)] == [{"account_id": own.pk}]


def test_a_viewer_cannot_sync_now(viewer_client, acme_rows, queued, sync_queue):
    listing = viewer_client.get(admin_url(EmailAccount, "changelist"))
    assert listing.context["action_form"] is None
    viewer_client.post(
        admin_url(EmailAccount, "changelist"),
        {"action": "sync_now", "_selected_action": [acme_rows["account"].pk]},
    )
    assert messages_of(queued, sync_queue) == []


def test_the_account_shows_its_last_sync_and_error(superuser_client, acme_rows):
    account = acme_rows["account"]
    older = EmailSyncLog.objects.create(
        email_account=account,
        sync_started_at=timezone.now() - timedelta(hours=1),
        status="completed",
        emails_synced=12,
    )
    assert older.pk  # the fixture's failed run is the newest

    html = page_text(superuser_client, admin_url(EmailAccount, "changelist"))
    assert "failed: Acme mailbox refused the login" in html

    html = page_text(superuser_client, admin_url(EmailAccount, "change", account.pk))
    log = acme_rows["sync_log"]
    assert admin_url(EmailSyncLog, "change", log.pk) in html
    assert "Acme sync" in html  # the log's error
    assert "Acme mailbox refused the login (failing since" in html
    assert "the owner has not been told yet" in html


def test_an_account_never_synced_says_so(superuser_client, acme, alice):
    account = factories.EmailAccountFactory(company=acme, user=alice)
    html = page_text(superuser_client, admin_url(EmailAccount, "change", account.pk))
    assert "No sync has run yet." in html
    html = page_text(superuser_client, admin_url(EmailAccount, "changelist"))
    assert ">never<" in html


# --- an e-mail's delivery ---------------------------------------------------------------------


def test_outbound_email_shows_its_delivery(superuser_client, acme_rows):
    sent, inbound = acme_rows["sent_email"], acme_rows["email"]
    response = superuser_client.get(admin_url(Email, "changelist"))
    rows = {row.pk: row for row in response.context["cl"].result_list}
    model_admin = admin.site.get_model_admin(Email)
    assert model_admin.delivery_state(rows[sent.pk]) == "failed (5 attempt(s))"
    assert model_admin.delivery_state(rows[inbound.pk]) == "-"
    html = page_text(superuser_client, admin_url(Email, "change", sent.pk))
    assert "failed (5 attempt(s))" in html
    assert "Acme SMTP said 550 mailbox unavailable" in html
    html = page_text(superuser_client, admin_url(Email, "change", inbound.pk))
    assert "Acme SMTP said" not in html


# --- a rule's problems ------------------------------------------------------------------------


def test_a_rule_shows_its_problems(superuser_client, acme_rows):
    rule = acme_rows["rule"]
    EmailRule.objects.filter(pk=rule.pk).update(
        conditions={"subject_contains": ["urgent"], "colour": "red"}, actions="notify everyone"
    )

    response = superuser_client.get(admin_url(EmailRule, "changelist"))
    html = response.content.decode()
    assert "colour" in html  # the first problem, in the list

    html = page_text(superuser_client, admin_url(EmailRule, "change", rule.pk))
    assert "Problems" in html
    assert "colour" in html and "<li>" in html
    assert "Skipped: Acme rule has no actions (1 time(s)" in html


def test_a_sound_rule_says_it_runs(superuser_client, acme_rows):
    rule = acme_rows["rule"]
    EmailRule.objects.filter(pk=rule.pk).update(
        conditions={"subject_contains": "urgent"}, actions={"set_category": "complaint"}
    )
    EmailRuleProblem.objects.filter(rule=rule).delete()

    html = page_text(superuser_client, admin_url(EmailRule, "change", rule.pk))
    assert "None: the rule runs as written." in html
    assert "It ran without a problem, or has not run yet." in html
    response = superuser_client.get(admin_url(EmailRule, "changelist"))
    model_admin = admin.site.get_model_admin(EmailRule)
    [shown] = [r for r in response.context["cl"].result_list if r.pk == rule.pk]
    assert model_admin.problems(shown) == "none"


def test_saving_a_rule_with_problems_warns(superuser_client, acme_rows):
    rule = acme_rows["rule"]
    url = admin_url(EmailRule, "change", rule.pk)
    data = changeform_data(superuser_client.get(url)) | {
        "conditions": '{"colour": "red"}',
        "actions": '{"set_category": "complaint"}',
    }

    response = superuser_client.post(url, data, follow=True)

    html = response.content.decode()
    assert "is saved, but it is skipped until this is fixed" in html
    assert "colour" in html
    rule.refresh_from_db()
    assert rule.conditions == {"colour": "red"}


def test_add_pages_show_no_run_of_a_row_not_saved_yet(superuser_client, acme_rows):
    html = page_text(superuser_client, admin_url(EmailRule, "add"))
    assert "problems in the rule now" not in html
    html = page_text(superuser_client, admin_url(EmailAccount, "add"))
    assert "No sync has run yet." in html


# --- an e-mail queued in the console ----------------------------------------------------------


def _email_add_data(client, account, **fields) -> dict[str, object]:
    data = changeform_data(client.get(admin_url(Email, "add")))
    return data | {
        "email_account": account.pk,
        "from_email": account.email,
        "direction": "outbound",
        "status": "queued",
        "subject": "Quote for the rocket skates",
        "body_text": "Hello Bob",
        "body_html": '<p>Hello Bob, <a href="https://acme.test/quote">the quote</a></p>',
        "to_emails": '["Bob Buyer <bob@customer.test>"]',
        "message_id": "",
        **fields,
    }


def test_an_email_queued_in_the_console_is_prepared_and_sent(
    superuser_client, acme_rows, queued, send_queue, django_capture_on_commit_callbacks, settings
):
    settings.HUB_PUBLIC_URL = "https://hub.acme.test"
    account = acme_rows["account"]
    data = _email_add_data(superuser_client, account)

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(admin_url(Email, "add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    email = Email.objects.get(subject="Quote for the rocket skates")
    assert email.to_emails == ["bob@customer.test"]
    assert email.message_id.startswith("<") and email.message_id.endswith("@acme.test>")
    assert email.thread is not None and email.thread.message_count == 1
    assert "bob@customer.test" in email.thread.participants
    assert EmailThreadRef.objects.get(message_id=email.message_id).thread == email.thread
    assert [link.url for link in EmailLink.objects.filter(email=email)] == [
        "https://acme.test/quote"
    ]
    assert EmailDelivery.objects.get(email=email).state == "pending"
    [message] = messages_of(queued, send_queue)
    assert message.kwargs == {"email_id": email.pk}


def test_a_reply_queued_in_the_console_joins_its_parents_thread(
    superuser_client, acme_rows, queued, send_queue
):
    parent = acme_rows["email"]  # inbound, in the Acme thread
    data = _email_add_data(
        superuser_client, acme_rows["account"], reply_to=parent.pk, subject="", body_html=""
    )

    response = superuser_client.post(admin_url(Email, "add"), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    email = Email.objects.get(reply_to=parent)
    assert email.thread == parent.thread
    assert email.subject == "Re: Acme email"
    assert email.in_reply_to == parent.message_id


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        ({"to_emails": '["Bob Buyer <bob@x>"]'}, "to_emails", "is not a valid e-mail address"),
        ({"to_emails": '"bob@customer.test"'}, "to_emails", "To must be a list of e-mail"),
        ({"to_emails": "[]"}, "to_emails", "needs at least one recipient"),
        ({"message_id": "q1"}, "message_id", "“<q1>” is not a Message-ID"),
        ({"direction": "inbound", "status": "delivered"}, "message_id", "unless the e-mail is"),
        ({"status": "draft", "subject": ""}, "subject", "unless the e-mail is outbound"),
    ],
)
def test_an_email_the_console_cannot_prepare_is_refused_on_the_form(
    superuser_client, acme_rows, queued, send_queue, fields, field, error
):
    data = _email_add_data(superuser_client, acme_rows["account"], **fields)

    response = superuser_client.post(admin_url(Email, "add"), data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any(error in message for message in errors[field]), errors
    assert not Email.objects.filter(subject="Quote for the rocket skates").exists()
    assert messages_of(queued, send_queue) == []
