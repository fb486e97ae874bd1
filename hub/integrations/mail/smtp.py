"""Sending over SMTP (``smtplib``): the MIME message of an outgoing e-mail and one error type.

Port 465 speaks TLS from the first byte (``SMTP_SSL``); any other port starts in clear and
upgrades with ``STARTTLS``. A server that offers neither never gets the password: the login is
refused here unless the host is on loopback or ``SmtpServer.allow_plaintext`` says so (the
setting ``HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN``). Nothing outside this module knows ``smtplib``:
callers hand over an :class:`OutgoingMail` and see :class:`SmtpError`, whose ``permanent``
says whether sending again cannot help (a 5xx refusal, a refused login, a bad address) or may
(a 4xx, a refused connection, a timeout).
"""

from __future__ import annotations

import ipaddress
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from django.core.mail.utils import DNS_NAME

IMPLICIT_TLS_PORT = 465
DEFAULT_PORT = 587
# A server's reply is quoted in the error; a misbehaving one could send pages.
_REPLY_CHARS = 300


class SmtpError(Exception):
    """The mail server refused the message or could not be reached; ``str()`` is a sentence.

    ``permanent`` is true when sending again will not help (a 5xx reply, a refused login, a TLS
    certificate that does not verify); ``code`` is the server's reply code when it gave one.
    """

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0
    # Log in without TLS to a server that offers none (loopback hosts always may).
    allow_plaintext: bool = False


@dataclass(frozen=True)
class OutgoingMail:
    """One message as it leaves: ``bcc`` are envelope recipients only, never a header."""

    sender: str
    sender_name: str
    to: list[str]
    subject: str
    message_id: str
    date: datetime
    text: str
    html: str = ""
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    in_reply_to: str | None = None
    references: str | None = None

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to, *self.cc, *self.bcc]))


def mail_message(mail: OutgoingMail) -> EmailMessage:
    """The MIME message: text, and the HTML as its alternative when there is one.

    Raises a permanent :class:`SmtpError` when an address is not a plain e-mail address or a
    header cannot be written.
    """
    try:
        return _message(mail)
    except SmtpError:
        raise
    except (ValueError, TypeError, HeaderParseError) as error:
        # ValueError covers the email package's header defects; never the message's text.
        raise SmtpError(
            f"The e-mail could not be written ({type(error).__name__}: {_one_line(str(error))[:_REPLY_CHARS]}).",
            permanent=True,
        ) from None


def _message(mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(
        display_name=_one_line(mail.sender_name), addr_spec=_addr_spec(mail.sender)
    )
    message["To"] = _addresses(mail.to, "To")
    if mail.cc:
        message["Cc"] = _addresses(mail.cc, "Cc")
    _addresses(mail.bcc, "Bcc")  # checked only: Bcc is never a header
    message["Subject"] = _one_line(mail.subject)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        message["References"] = mail.references
    message.set_content(mail.text or "")
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


def smtp_send(
    *, server: SmtpServer, mail: OutgoingMail, ssl_context: ssl.SSLContext | None = None
) -> dict[str, str]:
    """Send ``mail``; return the recipients the server refused while taking the others.

    Raises :class:`SmtpError` when the message was not taken. Once the server has taken it,
    nothing after (a failed ``QUIT``) is reported as a failure: that would send it twice.
    """
    context = ssl_context or ssl.create_default_context()
    message = mail_message(mail)  # before connecting: a bad address needs no server
    client = _connect(server, context)
    try:
        _start(client, server, context)
        refused = client.send_message(message, from_addr=mail.sender, to_addrs=mail.recipients)
    except smtplib.SMTPRecipientsRefused as error:
        raise _refused_everyone(error.recipients) from None
    except (smtplib.SMTPException, OSError) as error:
        raise _error(error, server) from None
    finally:
        _quit(client)
    return {rcpt: _reply(code, text) for rcpt, (code, text) in refused.items()}


def smtp_login_check(*, server: SmtpServer, ssl_context: ssl.SSLContext | None = None) -> str:
    """Connect and log in, sending nothing; return how the connection is protected
    ("implicit TLS", "STARTTLS" or "no TLS"). Raises :class:`SmtpError` as :func:`smtp_send`."""
    context = ssl_context or ssl.create_default_context()
    client = _connect(server, context)
    try:
        return _start(client, server, context)
    except (smtplib.SMTPException, OSError) as error:
        raise _error(error, server) from None
    finally:
        _quit(client)


def _addr_spec(address: object) -> str:
    if not isinstance(address, str):
        raise SmtpError(f"“{address}” is not an e-mail address.", permanent=True)
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, HeaderParseError):
        parsed = None
    if parsed is None or not parsed.domain or parsed.addr_spec != address:
        raise SmtpError(
            f"“{_one_line(address)[:_REPLY_CHARS]}” is not an e-mail address.", permanent=True
        )
    return address


def _addresses(addresses: object, header: str) -> list[Address]:
    if isinstance(addresses, str) or not isinstance(addresses, list | tuple):
        raise SmtpError(
            f"{header} must be a list of e-mail addresses, not “{_one_line(str(addresses))[:_REPLY_CHARS]}”.",
            permanent=True,
        )
    return [Address(addr_spec=_addr_spec(address)) for address in addresses]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (a loopback address or ``localhost``)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _connect(server: SmtpServer, context: ssl.SSLContext) -> smtplib.SMTP:
    try:
        if server.port == IMPLICIT_TLS_PORT:
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=str(DNS_NAME),
                timeout=server.timeout,
                context=context,
            )
        return smtplib.SMTP(
            server.host, server.port, local_hostname=str(DNS_NAME), timeout=server.timeout
        )
    except (smtplib.SMTPException, OSError) as error:
        raise _error(error, server) from None


def _start(client: smtplib.SMTP, server: SmtpServer, context: ssl.SSLContext) -> str:
    client.ehlo()
    if isinstance(client, smtplib.SMTP_SSL):
        protection = "implicit TLS"
    elif client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
        protection = "STARTTLS"
    else:
        protection = "no TLS"
        if server.username and not (server.allow_plaintext or is_loopback(server.host)):
            raise SmtpError(
                f"The mail server {server.host}:{server.port} offers no TLS (STARTTLS); the "
                "password was not sent. Use the server's TLS port (465 or 587 with STARTTLS).",
                permanent=True,
            )
    if server.username:
        client.login(server.username, server.password)
    return protection


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {_one_line(text)[:_REPLY_CHARS]}".strip()


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def _refused_everyone(recipients: dict) -> SmtpError:
    listed = "; ".join(
        f"{rcpt} ({_reply(code, text)})" for rcpt, (code, text) in recipients.items()
    )
    # One temporary refusal among them: trying again later may get it through.
    permanent = all(_is_permanent(code) for code, _ in recipients.values())
    codes = [code for code, _ in recipients.values()]
    return SmtpError(
        f"The mail server refused every recipient: {listed}.",
        permanent=permanent,
        code=codes[0] if codes else None,
    )


def _error(error: Exception, server: SmtpServer) -> SmtpError:
    where = f"{server.host}:{server.port}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return SmtpError(
            f"The mail server {where} refused the login ({_reply(error.smtp_code, error.smtp_error)}): "
            "check the account's user name and password.",
            permanent=_is_permanent(error.smtp_code),
            code=error.smtp_code,
        )
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        return SmtpError(
            f"The mail server {where} refused the message ({_reply(code, error.smtp_error)}).",
            permanent=_is_permanent(code),
            code=code,
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return SmtpError(
            f"The mail server {where} does not offer a login (AUTH), but the account has a user "
            "name: check the server and port.",
            permanent=True,
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SmtpError(f"The mail server {where} closed the connection.", permanent=False)
    if isinstance(error, ssl.SSLCertVerificationError):
        return SmtpError(
            f"The mail server {where} has a TLS certificate that does not verify "
            f"({error.verify_message}).",
            permanent=True,
        )
    if isinstance(error, socket.gaierror):
        return SmtpError(f"The mail server name {server.host} does not resolve.", permanent=False)
    if isinstance(error, TimeoutError):
        return SmtpError(f"The mail server {where} did not answer in time.", permanent=False)
    if isinstance(error, ConnectionRefusedError):
        return SmtpError(f"The mail server {where} refused the connection.", permanent=False)
    if isinstance(error, ssl.SSLError):
        return SmtpError(f"TLS with the mail server {where} failed ({error}).", permanent=False)
    if isinstance(error, OSError):
        reason = error.strerror or type(error).__name__
        return SmtpError(
            f"The mail server {where} could not be reached ({reason}).", permanent=False
        )
    return SmtpError(f"Sending through {where} failed ({type(error).__name__}).", permanent=False)
