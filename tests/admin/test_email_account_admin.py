"""E-mail account credentials: never rendered, replaced only through write-only fields."""

from __future__ import annotations

import pytest

from hub.domain.emails.crypto import credential_decrypt
from hub.domain.emails.models import EmailAccount
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
    data = changeform_data(superuser_client.get(url)) | {"username": "renamed@acme.test"}

    assert superuser_client.post(url, data).status_code == 302

    account.refresh_from_db()
    assert (account.password, account.oauth_token) == stored
    assert account.username == "renamed@acme.test"


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
