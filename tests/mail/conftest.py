"""Real mail servers for the mail tests: one Dovecot for the session (a new mailbox per test)
and an aiosmtpd server per test. A missing Dovecot fails the tests, never skips them."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.mail.dovecot import Dovecot
from tests.mail.smtp import SmtpServer

_mailboxes = itertools.count(1)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Mailbox:
    """A fresh mailbox on the test Dovecot: its address is also its IMAP login."""

    server: Dovecot
    address: str
    password: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def append(self, *messages: bytes, folder: str = "INBOX", flags=()) -> None:
        self.server.append(self.address, list(messages), folder=folder, flags=flags)

    def client(self):
        return self.server.client(self.address)


@pytest.fixture
def mailbox(dovecot) -> Mailbox:
    address = f"user{next(_mailboxes)}-{id(dovecot) % 10000}@mail.test"
    password = dovecot.user_add(address)
    return Mailbox(server=dovecot, address=address, password=password)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer.start(credentials={})  # logins added by the accounts that use it
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def encryption_key(settings) -> str:
    """One fresh Fernet key as the only EMAIL_ENCRYPTION_KEY."""
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    settings.EMAIL_ENCRYPTION_KEYS = [key]
    return key


@pytest.fixture
def imap_account(acme, alice, mailbox, smtp_server):
    """alice's account at Acme on the test Dovecot (IMAP) and the test aiosmtpd (SMTP)."""
    from hub.domain.emails.services import email_account_create

    smtp_server.credentials[mailbox.address] = mailbox.password
    return email_account_create(
        company=acme,
        user=alice,
        email=mailbox.address,
        provider="imap",
        username=mailbox.address,
        password=mailbox.password,
        imap_host=mailbox.host,
        imap_port=mailbox.port,
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
    )
