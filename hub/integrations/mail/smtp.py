"""Sending over SMTP (``smtplib``): the MIME message of an outgoing e-mail and one error type.

Port 465 speaks TLS from the first byte (``SMTP_SSL``); any other port starts in clear and
upgrades with ``STARTTLS`` when the server offers it. Nothing outside this module knows
``smtplib``: callers hand over an :class:`OutgoingMail` and see :class:`SmtpError`, whose
``permanent`` says whether sending again can help (a 5xx refusal, a refused login) or not yet
(a 4xx, a refused connection, a timeout).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime
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
    """The MIME message: text, and the HTML as its alternative when there is one."""
    message = EmailMessage()
    message["From"] = Address(display_name=_one_line(mail.sender_name), addr_spec=mail.sender)
    message["To"] = [Address(addr_spec=address) for address in mail.to]
    if mail.cc:
        message["Cc"] = [Address(addr_spec=address) for address in mail.cc]
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
    message = mail_message(mail)
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


def _start(client: smtplib.SMTP, server: SmtpServer, context: ssl.SSLContext) -> None:
    client.ehlo()
    if not isinstance(client, smtplib.SMTP_SSL) and client.has_extn("starttls"):
        client.starttls(context=context)
        client.ehlo()
    if server.username:
        client.login(server.username, server.password)


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
