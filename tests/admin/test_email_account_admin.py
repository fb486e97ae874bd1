"""E-mail account credentials: never rendered, replaced only through write-only fields."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from hub.domain.emails.crypto import credential_decrypt, credential_encrypt
from hub.domain.emails.models import EmailAccount
from hub.domain.emails.services import email_account_update
from tests import factories
from tests.admin.helpers import admin_url, changeform_data, mailbox_password

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(acme_rows):
    return acme_rows["account"]


def secrets_of(account: EmailAccount) -> list[str]:
    return [
        account.password,
        account.oauth_token,
        credential_decrypt(account.password),
        credential_decrypt(account.oauth_token),
    ]


def test_change_page_and_list_never_show_a_credential(superuser_client, bob_client, account):
    assert credential_decrypt(account.password) == mailbox_password("Acme")
    for client in (superuser_client, bob_client):
        for url in (
            admin_url(EmailAccount, "change", account.pk),
            admin_url(EmailAccount, "changelist"),
        ):
            response = client.get(url)
            assert response.status_code == 200
            html = response.content.decode()
            for secret in secrets_of(account):
                assert secret not in html, url
            assert ">set<" in html


def test_a_new_password_is_stored_encrypted(superuser_client, account):
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url))
    assert "password" not in data and "oauth_token" not in data
    data |= {"new_password": "n3w-mailbox-pa55", "imap_host": "imap.acme.test"}

    response = superuser_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    account.refresh_from_db()
    assert account.password != "n3w-mailbox-pa55"
    assert credential_decrypt(account.password) == "n3w-mailbox-pa55"
    assert credential_decrypt(account.oauth_token) == "Acme-oauth-token-7c1e"
    assert account.imap_host == "imap.acme.test"


def test_leaving_the_fields_empty_keeps_the_credentials(superuser_client, account):
    stored = (account.password, account.oauth_token)
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url))
    data.pop("sync_enabled", None)  # unticked

    assert superuser_client.post(url, data).status_code == 302

    account.refresh_from_db()
    assert (account.password, account.oauth_token) == stored
    assert account.sync_enabled is False


def test_oauth_token_replaced_or_removed(superuser_client, account):
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url))

    assert superuser_client.post(url, data | {"new_oauth_token": "ya29.fresh"}).status_code == 302
    account.refresh_from_db()
    assert credential_decrypt(account.oauth_token) == "ya29.fresh"

    assert superuser_client.post(url, data | {"clear_oauth_token": "on"}).status_code == 302
    account.refresh_from_db()
    assert account.oauth_token is None
    assert credential_decrypt(account.password) == mailbox_password("Acme")


def test_a_rejected_form_does_not_echo_the_new_password(superuser_client, account):
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url)) | {
        "new_password": "typed-but-bad-form-77",
        "email": "not an address",
    }
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    assert "typed-but-bad-form-77" not in response.content.decode()


def test_add_requires_a_password_and_encrypts_it(superuser_client, superuser, acme, alice):
    url = admin_url(EmailAccount, "add")
    data = {
        "company": acme.pk,
        "user": alice.pk,
        "email": "Sales@Acme.test",
        "provider": "imap",
        "username": "sales@acme.test",
        "imap_host": "imap.acme.test",
        "imap_port": "993",
        "is_active": "on",
        "sync_enabled": "on",
    }
    response = superuser_client.post(url, data)
    assert response.status_code == 200
    assert "new_password" in response.context["adminform"].form.errors

    response = superuser_client.post(url, data | {"new_password": "first-pa55word"})
    assert response.status_code == 302
    account = EmailAccount.objects.get(
        company=acme, email="sales@acme.test"
    )  # the service lowers it
    assert credential_decrypt(account.password) == "first-pa55word"
    assert account.oauth_token is None


def test_the_tokens_cannot_be_probed_through_filters(superuser_client, account):
    url = admin_url(EmailAccount, "changelist")
    response = superuser_client.get(url, {"password__startswith": account.password[:5]})
    assert response.status_code == 400


def test_add_refuses_an_owner_outside_the_company(superuser_client, acme, charlie):
    data = {
        "company": acme.pk,
        "user": charlie.pk,
        "email": "outsider@acme.test",
        "provider": "imap",
        "username": "outsider@acme.test",
        "imap_host": "imap.acme.test",
        "imap_port": "993",
        "new_password": "first-pa55word",
    }
    response = superuser_client.post(admin_url(EmailAccount, "add"), data)
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not EmailAccount.objects.filter(email="outsider@acme.test").exists()


# --- the servers and the login: where the stored password goes -----------------------------

SERVERS_CHANGED = "The servers or the login changed: enter the password again."
NOT_YOURS = "Only the mailbox's owner, a superuser or a CEO of the company may change"
MOVES = {
    "imap_host": "imap.attacker.test",
    "imap_port": "8143",
    "smtp_host": "smtp.attacker.test",
    "smtp_port": "2525",
    "username": "someone-else@acme.test",
}


def staff_client(client, user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client.force_login(user)
    return client


@pytest.fixture
def servers_set(account):
    EmailAccount.objects.filter(pk=account.pk).update(
        imap_host="imap.acme.test", imap_port=993, smtp_host="smtp.acme.test", smtp_port=465
    )
    account.refresh_from_db()
    return account


@pytest.mark.parametrize("field", MOVES)
def test_moving_a_server_or_the_login_without_the_password_is_refused(
    superuser_client, servers_set, field
):
    account = servers_set
    before = EmailAccount.objects.values().get(pk=account.pk)
    url = admin_url(EmailAccount, "change", account.pk)
    data = changeform_data(superuser_client.get(url)) | {field: MOVES[field]}

    response = superuser_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["new_password"] == [SERVERS_CHANGED]
    assert SERVERS_CHANGED in response.content.decode()
    assert EmailAccount.objects.values().get(pk=account.pk) == before

    # Typed again, the password goes with the change (and is the one stored).
    response = superuser_client.post(url, data | {"new_password": "typed-again-77"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert str(getattr(account, field)) == MOVES[field]
    assert credential_decrypt(account.password) == "typed-again-77"


def test_the_service_refuses_it_too_and_changes_nothing(servers_set):
    account = servers_set
    stored = account.password

    with pytest.raises(ValidationError) as refused:
        email_account_update(account=account, imap_host="imap.attacker.test", imap_port=8143)

    assert refused.value.message_dict == {"password": [SERVERS_CHANGED]}
    account.refresh_from_db()
    assert (account.imap_host, account.imap_port, account.password) == (
        "imap.acme.test",
        993,
        stored,
    )
    # The same values again are no change; other fields need no password.
    email_account_update(
        account=account, imap_host="imap.acme.test", imap_port=993, sync_enabled=False
    )
    account.refresh_from_db()
    assert account.sync_enabled is False and account.password == stored


@pytest.mark.parametrize("role", ["sales_manager", "manager"])
def test_a_colleague_who_may_edit_mail_rows_cannot_move_someone_elses_mailbox(
    client, servers_set, acme, role
):
    account = servers_set  # alice's
    colleague = factories.CompanyUserFactory(company=acme, role=role).user
    colleague_client = staff_client(client, colleague)
    url = admin_url(EmailAccount, "change", account.pk)
    page = colleague_client.get(url)
    assert page.status_code == 200  # they may edit the account…
    data = changeform_data(page)

    for change in (
        {"imap_host": "127.0.0.1", "imap_port": "8143", "new_password": "their-own-pass"},
        {"user": colleague.pk},  # …but not give it to themselves
    ):
        response = colleague_client.post(url, data | change)
        assert response.status_code == 200, change
        [error] = response.context["adminform"].form.non_field_errors()
        assert error.startswith(NOT_YOURS)
    account.refresh_from_db()
    assert (account.imap_host, account.user_id) == ("imap.acme.test", account.company.created_by_id)
    assert credential_decrypt(account.password) == mailbox_password("Acme")

    # …and a change that sends the password nowhere new is theirs to make.
    data.pop("sync_enabled", None)
    assert colleague_client.post(url, data).status_code == 302
    account.refresh_from_db()
    assert account.sync_enabled is False
    with pytest.raises(PermissionDenied, match=NOT_YOURS):
        email_account_update(account=account, by=colleague, smtp_host="x.test", password="p")


def test_the_owner_and_a_ceo_may_move_a_mailbox(client, acme, alice, bob):
    bobs = factories.EmailAccountFactory(
        company=acme, user=bob, email="bob@acme.test", password=credential_encrypt("bobs-pass")
    )
    # bob, a sales manager, moves his own mailbox.
    email_account_update(account=bobs, by=bob, imap_host="imap.bob.test", password="bobs-new")
    # alice is Acme's CEO: she may move bob's, in the console too.
    alice_client = staff_client(client, alice)
    url = admin_url(EmailAccount, "change", bobs.pk)
    data = changeform_data(alice_client.get(url)) | {
        "imap_host": "imap.acme.test",
        "new_password": "set-by-the-ceo",
    }

    assert alice_client.post(url, data).status_code == 302

    bobs.refresh_from_db()
    assert bobs.imap_host == "imap.acme.test"
    assert credential_decrypt(bobs.password) == "set-by-the-ceo"
    # A CEO of another company is nobody here.
    outsider = factories.CompanyUserFactory(role="ceo").user
    with pytest.raises(PermissionDenied):
        email_account_update(account=bobs, by=outsider, imap_host="x.test", password="p")


def test_the_form_says_which_ports_mean_tls(superuser_client, account):
    html = superuser_client.get(admin_url(EmailAccount, "change", account.pk)).content.decode()
    assert "993 (the default): TLS from the start" in html
    assert "465: TLS from the start. Any other port (587, the default) must offer" in html
