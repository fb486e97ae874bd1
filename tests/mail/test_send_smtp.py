"""The SMTP client against real aiosmtpd servers: STARTTLS, implicit TLS, a certificate that
does not verify, no TLS at all (the password is not sent), a recipient refused among others,
an address that is not one, and the MIME message it builds."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.domain.emails.delivery import email_deliver
from hub.domain.emails.hub_models import DeliveryState, EmailDelivery
from hub.domain.emails.models import EmailStatus
from hub.domain.emails.services import email_account_create
from hub.integrations.mail import smtp
from hub.integrations.mail.smtp import OutgoingMail, SmtpError, SmtpServer, mail_message, smtp_send
from tests.mail.send_fixtures import queue

LOGIN, PASSWORD = "alice@acme.test", "s3cret-pass"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1: (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


class Handler:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


# Every login a test server was offered: (login, password).
LOGINS: list[tuple[str, str]] = []


def _authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    if isinstance(auth_data, LoginPassword):
        LOGINS.append((auth_data.login.decode(), auth_data.password.decode()))
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (LOGIN, PASSWORD)
    return AuthResult(success=ok, handled=False)


def _server_context(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _start(handler: Handler, host: str = "127.0.0.1", **options) -> Iterator[int]:
    port = _free_port()
    LOGINS.clear()
    controller = Controller(
        handler,
        hostname=host,
        port=port,
        authenticator=_authenticate,
        auth_required=True,
        **options,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def handler() -> Handler:
    return Handler()


@pytest.fixture
def starttls_port(handler, certificate) -> Iterator[int]:
    """A server that takes a login only after STARTTLS."""
    yield from _start(
        handler,
        tls_context=_server_context(certificate),
        require_starttls=True,
        auth_require_tls=True,
    )


@pytest.fixture
def plain_port(handler) -> Iterator[int]:
    """A server without TLS (loopback only)."""
    yield from _start(handler, auth_require_tls=False)


def _outside_host() -> tuple[str, str]:
    """A name for this machine that is not a loopback name or address, and the address it
    resolves to: the client cannot tell that the server is this machine."""
    name = socket.gethostname()
    if smtp.is_loopback(name):
        raise AssertionError(f"the machine's name {name!r} is a loopback name")
    return name, socket.gethostbyname(name)


@pytest.fixture
def outside_plain(handler) -> Iterator[tuple[str, int]]:
    """A server without TLS that the client reaches by a name that is not loopback."""
    name, address = _outside_host()
    for port in _start(handler, host=address, auth_require_tls=False):
        yield name, port


@pytest.fixture
def implicit_tls_port(handler, certificate, monkeypatch) -> Iterator[int]:
    """A server speaking TLS from the first byte, on the port the client treats as 465."""
    # TLS from the start: aiosmtpd cannot tell, so it must be told a login is fine.
    for port in _start(handler, ssl_context=_server_context(certificate), auth_require_tls=False):
        monkeypatch.setattr(smtp, "IMPLICIT_TLS_PORT", port)
        yield port


def _mail(**fields) -> OutgoingMail:
    defaults = {
        "sender": LOGIN,
        "sender_name": "Alice Smith",
        "to": ["ann@client.test"],
        "subject": "Hello",
        "message_id": "<one@acme.test>",
        "date": dt.datetime(2025, 1, 31, 9, 15, tzinfo=dt.UTC),
        "text": "Hello Ann",
    }
    return OutgoingMail(**(defaults | fields))


def _server(port: int, password: str = PASSWORD, **fields) -> SmtpServer:
    values = {"host": "127.0.0.1", "username": LOGIN, "password": password, "timeout": 5}
    return SmtpServer(port=port, **(values | fields))


def _smtp_account(company, user, host: str, port: int):
    """The user's SMTP-only account logging in as LOGIN on ``host:port``."""
    return email_account_create(
        company=company,
        user=user,
        email=LOGIN,
        provider="smtp",
        username=LOGIN,
        password=PASSWORD,
        smtp_host=host,
        smtp_port=port,
    )


def test_starttls_is_used_when_offered_and_the_login_follows_it(
    starttls_port, handler, certificate
):
    trusted = ssl.create_default_context(cafile=certificate[0])

    refused = smtp_send(server=_server(starttls_port), mail=_mail(), ssl_context=trusted)

    assert refused == {}
    ((rcpts, data),) = handler.messages
    assert rcpts == ["ann@client.test"]
    assert b"Message-ID: <one@acme.test>" in data


def test_implicit_tls_on_port_465(implicit_tls_port, handler, certificate):
    trusted = ssl.create_default_context(cafile=certificate[0])

    smtp_send(server=_server(implicit_tls_port), mail=_mail(), ssl_context=trusted)

    assert len(handler.messages) == 1


def test_a_certificate_that_does_not_verify_is_a_permanent_failure(starttls_port, handler):
    with pytest.raises(SmtpError) as failed:
        smtp_send(server=_server(starttls_port), mail=_mail())  # the system's CAs only

    assert failed.value.permanent
    assert "TLS certificate that does not verify" in str(failed.value)
    assert handler.messages == []


def test_a_wrong_password_is_a_permanent_failure_that_does_not_show_it(starttls_port, certificate):
    trusted = ssl.create_default_context(cafile=certificate[0])

    with pytest.raises(SmtpError) as failed:
        smtp_send(
            server=_server(starttls_port, password="wrong-pass-123"),
            mail=_mail(),
            ssl_context=trusted,
        )

    assert failed.value.permanent and failed.value.code == 535
    assert "refused the login" in str(failed.value)
    assert "wrong-pass-123" not in str(failed.value)


def test_every_recipient_refused_is_a_failure_naming_them(implicit_tls_port, certificate):
    trusted = ssl.create_default_context(cafile=certificate[0])

    with pytest.raises(SmtpError) as failed:
        smtp_send(
            server=_server(implicit_tls_port),
            mail=_mail(to=["nobody@client.test"]),
            ssl_context=trusted,
        )

    assert failed.value.permanent
    assert str(failed.value) == (
        "The mail server refused every recipient: nobody@client.test (550 5.1.1 No such user here)."
    )


def test_the_mime_message():
    message = mail_message(
        _mail(
            sender_name="Zoë Ünal",
            to=["ann@client.test", "bo@client.test"],
            cc=["cc@client.test"],
            bcc=["hidden@acme.test"],
            html="<p>Hello <b>Ann</b></p>",
            in_reply_to="<parent@client.test>",
            references="<a@client.test> <parent@client.test>",
        )
    )

    assert str(message["From"]) == "Zoë Ünal <alice@acme.test>"
    assert "=?utf-8?" in message.as_string()  # the name is encoded for the wire
    assert message["To"] == "ann@client.test, bo@client.test"
    assert message["Date"] == "Fri, 31 Jan 2025 09:15:00 +0000"
    assert message["Bcc"] is None and "hidden@acme.test" not in message.as_string()
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


@pytest.mark.django_db
def test_a_recipient_refused_among_others_is_noted_and_the_rest_get_it(
    plain_port, handler, acme, alice
):
    account = _smtp_account(acme, alice, "127.0.0.1", plain_port)
    email = queue(account, to=["ann@client.test", "nobody@client.test"])

    assert email_deliver(email_id=email.id).outcome == "sent"

    ((rcpts, _),) = handler.messages
    assert rcpts == ["ann@client.test"]
    email.refresh_from_db()
    delivery = EmailDelivery.objects.get(email=email)
    assert (email.status, delivery.state) == (EmailStatus.SENT, DeliveryState.SENT)
    assert delivery.last_error == (
        "Not delivered to: nobody@client.test (550 5.1.1 No such user here)"
    )


# --- no TLS: the password is not sent -----------------------------------------------------------


def test_a_server_without_tls_never_gets_the_password(outside_plain, handler):
    host, port = outside_plain

    with pytest.raises(SmtpError) as refused:
        smtp_send(server=_server(port, host=host), mail=_mail())

    assert refused.value.permanent
    assert str(refused.value) == (
        f"The mail server {host}:{port} offers no TLS (STARTTLS); the password was not sent. "
        "Use the server's TLS port (465 or 587 with STARTTLS)."
    )
    assert LOGINS == [] and handler.messages == []
    with pytest.raises(SmtpError, match="offers no TLS"):
        smtp.smtp_login_check(server=_server(port, host=host))
    assert LOGINS == []


def test_plaintext_is_allowed_when_the_setting_says_so(outside_plain, handler):
    host, port = outside_plain

    smtp_send(server=_server(port, host=host, allow_plaintext=True), mail=_mail())

    assert LOGINS == [(LOGIN, PASSWORD)]
    assert len(handler.messages) == 1


def test_without_a_login_there_is_no_password_to_protect(outside_plain, handler):
    host, port = outside_plain
    server = SmtpServer(host=host, port=port, username="", password="", timeout=5)

    with pytest.raises(SmtpError, match="530"):  # this server wants a login: it refuses, not us
        smtp_send(server=server, mail=_mail())
    assert LOGINS == []


def test_loopback_servers_may_go_without_tls(plain_port, handler):
    assert smtp.smtp_login_check(server=_server(plain_port)) == "no TLS"
    assert LOGINS == [(LOGIN, PASSWORD)]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("mail.localhost", True),
        ("localhost.attacker.test", False),
        ("127.0.0.1.nip.io", False),
        ("10.0.0.1", False),
        ("smtp.acme.test", False),
        ("", False),
    ],
)
def test_what_counts_as_loopback(host, loopback):
    assert smtp.is_loopback(host) is loopback


@pytest.mark.django_db
def test_the_delivery_fails_for_good_and_says_why(outside_plain, handler, acme, alice, settings):
    host, port = outside_plain
    account = _smtp_account(acme, alice, host, port)
    refused, allowed = queue(account, subject="Refused"), queue(account, subject="Allowed")

    assert email_deliver(email_id=refused.id).outcome == "failed"
    assert "offers no TLS (STARTTLS); the password was not sent" in (
        EmailDelivery.objects.get(email=refused).last_error
    )
    settings.HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN = True
    assert email_deliver(email_id=allowed.id).outcome == "sent"
    assert LOGINS == [(LOGIN, PASSWORD)] and len(handler.messages) == 1


# --- addresses that are not addresses -----------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"to": ["Bob Buyer <bob@x>"]}, "“Bob Buyer <bob@x>” is not an e-mail address."),
        ({"to": "bob@customer.test"}, "To must be a list of e-mail addresses"),
        ({"cc": ["ann@client.test", "nobody"]}, "“nobody” is not an e-mail address."),
        ({"bcc": ["a@b.test\r\nX: y"]}, "is not an e-mail address."),
        ({"in_reply_to": "<a@b.test>\r\nBcc: x@evil.test"}, "The e-mail could not be written"),
    ],
)
def test_what_cannot_be_written_is_a_permanent_failure_before_connecting(fields, reason):
    closed = _free_port()  # nothing listens: the message is refused before any connection

    with pytest.raises(SmtpError) as failed:
        smtp_send(server=_server(closed), mail=_mail(**fields))

    assert failed.value.permanent
    assert reason in str(failed.value)
