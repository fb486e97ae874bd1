"""The IMAP client on its own: no password to a server without TLS (a fake greeting server on
this machine's non-loopback address), stand-ins for messages over the size limit and STATUS
without LIST-STATUS (the real Dovecot)."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from hub.domain.emails.models import Email
from hub.domain.emails.sync import mailbox_sync
from hub.domain.notifications.models import Notification
from hub.integrations.mail.imap import (
    ImapMailbox,
    MailServerError,
    plaintext_login_allowed,
)
from hub.integrations.mail.imap_parts import TEXT_PART_MAX_BYTES
from tests.mail.conftest import Mailbox
from tests.mail.dovecot import Dovecot
from tests.mail.sync_fixtures import account_on, message


def test_plaintext_login_is_allowed_only_to_this_machine_or_when_set():
    for here in ("127.0.0.1", "127.5.6.7", "::1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"):
        assert plaintext_login_allowed(here), here
    for away in ("192.0.2.2", "10.0.0.1", "::ffff:10.0.0.1", "fd00::2", "imap.example.com", ""):
        assert not plaintext_login_allowed(away), away
        assert plaintext_login_allowed(away, allowed=True), away


class FakeImapServer:
    """A tiny IMAP server that offers no STARTTLS, records every byte it is sent and refuses
    every login: what a server (or someone in the path) stripping STARTTLS looks like."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        self.sock.bind((address, 0))
        self.sock.listen(4)
        self.host, self.port = address, self.sock.getsockname()[1]
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake server ready\r\n")
                for line in lines:
                    self.received += line
                    tag, _, rest = line.partition(b" ")
                    command = rest.split(b" ", 1)[0].strip().upper()
                    if command == b"CAPABILITY":
                        conn.sendall(
                            b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n"
                        )
                    elif command == b"LOGIN":
                        conn.sendall(tag + b" NO [AUTHENTICATIONFAILED] No.\r\n")
                    elif command == b"LOGOUT":
                        conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                        break
                    else:
                        conn.sendall(tag + b" BAD unknown\r\n")

    def stop(self) -> None:
        self.sock.close()


def outside_address() -> str | None:
    """An address of this machine that is not loopback (``hostname -I``), if it has one."""
    try:
        found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    except OSError:
        return None
    for address in found.stdout.split():
        if not plaintext_login_allowed(address):
            try:
                with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
                    s.bind((address, 0))
            except OSError:
                continue
            return address
    return None


@pytest.fixture
def fake_server() -> Iterator[FakeImapServer]:
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to serve the fake IMAP server on")
    server = FakeImapServer(address)
    yield server
    server.stop()


def login_refusal(server: FakeImapServer, **options) -> MailServerError:
    """What opening alice's mailbox on ``server`` raises (the fake server never lets one in)."""
    with (
        pytest.raises(MailServerError) as refused,
        ImapMailbox.open(
            host=server.host,
            port=server.port,
            username="alice@mail.test",
            password="Secret-Pa55",
            timeout=5,
            **options,
        ),
    ):
        pass
    return refused.value


def test_a_server_without_starttls_elsewhere_is_not_sent_the_password(fake_server):
    refused = login_refusal(fake_server)

    assert refused.kind == "insecure"
    assert str(refused) == (
        f"The IMAP server {fake_server.host}:{fake_server.port} offers no TLS (STARTTLS), so "
        "the hub did not send the password. Use port 993, or ask the hub's operator to set "
        "HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN."
    )
    assert b"LOGIN" not in fake_server.received.upper()
    assert b"Secret-Pa55" not in fake_server.received


def test_with_plaintext_allowed_the_same_server_gets_the_login(fake_server):
    assert login_refusal(fake_server, allow_plaintext=True).kind == "auth"
    assert b"LOGIN" in fake_server.received and b"Secret-Pa55" in fake_server.received


@pytest.mark.django_db
def test_a_sync_against_such_a_server_fails_and_tells_the_owner(
    fake_server, imap_account, alice, settings
):
    settings.HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN = False
    imap_account.imap_host, imap_account.imap_port = fake_server.host, fake_server.port
    imap_account.save(update_fields=["imap_host", "imap_port"])

    result = mailbox_sync(account=imap_account)

    assert result.status == "failed" and "offers no TLS (STARTTLS)" in result.error
    assert b"LOGIN" not in fake_server.received.upper()
    [notice] = Notification.objects.filter(user=alice)
    assert result.error in notice.message


# Messages over the size limit ------------------------------------------------------------


def with_attachment(*, text: str, html: bool = True, attachment: int = 300_000, **headers):
    msg = EmailMessage()
    msg["From"] = "Carol Client <carol@client.test>"
    msg["To"] = "owner@mail.test"
    msg["Subject"] = headers.get("subject", "The big offer")
    msg["Message-ID"] = headers.get("message_id", "<big@client.test>")
    msg.set_content(text, cte=headers.get("cte"))
    if html:
        msg.add_alternative(f"<p>{text[:100]}</p>", subtype="html")
    msg.add_attachment(
        b"%PDF" + bytes(range(256)) * (attachment // 256),
        maintype="application",
        subtype="pdf",
        filename="Offer é.pdf",
    )
    return msg.as_bytes()


def fetch_all(mailbox: Mailbox, max_bytes: int, caplog=None):
    with ImapMailbox.open(
        host=mailbox.host,
        port=mailbox.port,
        username=mailbox.address,
        password=mailbox.password,
        timeout=10,
    ) as imap:
        imap.select("INBOX")
        uids = imap.uids()
        sizes = imap.sizes(uids)
        if caplog is not None:
            with caplog.at_level(logging.DEBUG, logger="imapclient"):
                return imap.fetch(uids, sizes=sizes, max_bytes=max_bytes), sizes
        return imap.fetch(uids, sizes=sizes, max_bytes=max_bytes), sizes


def test_a_message_over_the_limit_comes_as_header_text_and_list_of_attachments(mailbox, caplog):
    mailbox.append(message(subject="Small"), with_attachment(text="Please find our offer.\n"))

    (small, big), sizes = fetch_all(mailbox, 100_000, caplog)

    assert small.oversize is None and small.attachments_listed == [] and b"Small" in small.raw
    assert big.oversize == sizes[2] > 300_000 and len(big.raw) < 5_000
    parsed = message_from_bytes(big.raw, policy=policy.default)
    assert not parsed.defects
    assert (parsed["Subject"], parsed["Message-ID"]) == ("The big offer", "<big@client.test>")
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == "Please find our offer.\n"
    [(name, kind, size)] = big.attachments_listed
    assert (name, kind) == ("Offer é.pdf", "application/pdf")
    assert abs(size - 300_036) < 3_000  # the decoded size, estimated from the base64 one
    fetches = [r.getMessage() for r in caplog.records if " FETCH " in r.getMessage()]
    whole = [f for f in fetches if "BODY.PEEK[]" in f]
    assert len(whole) == 1 and "FETCH 1 " in whole[0], fetches  # never UID 2 whole
    assert any("BODY.PEEK[1.1]<0.65536>" in f for f in fetches), fetches


def test_the_text_of_a_message_over_the_limit_is_cut(mailbox):
    text = "Grüße aus Köln. " * 20_000  # 320 KB, base64 on the wire
    mailbox.append(with_attachment(text=text, html=False, attachment=1_000, cte="base64"))

    [big], _ = fetch_all(mailbox, 50_000)

    parsed = message_from_bytes(big.raw, policy=policy.default)
    content = parsed.get_content()
    assert big.oversize and len(big.raw) < TEXT_PART_MAX_BYTES + 2_000
    assert content.startswith("Grüße aus Köln. ") and 40_000 < len(content) < 50_000
    assert [a[:2] for a in big.attachments_listed] == [("Offer é.pdf", "application/pdf")]


def test_a_message_over_the_limit_without_text_has_an_empty_body(mailbox):
    msg = EmailMessage()
    msg["From"], msg["Subject"] = "carol@client.test", "Scan"
    msg.set_content(b"PK" * 60_000, maintype="application", subtype="zip", filename="scan.zip")
    mailbox.append(msg.as_bytes())

    [big], _ = fetch_all(mailbox, 10_000)

    parsed = message_from_bytes(big.raw, policy=policy.default)
    assert parsed["Subject"] == "Scan" and parsed.get_content() == "" and not parsed.defects
    [(name, kind, size)] = big.attachments_listed
    assert (name, kind) == ("scan.zip", "application/zip") and abs(size - 120_000) < 2_000


@pytest.mark.django_db
def test_the_sync_stores_a_message_over_the_limit_from_its_stand_in(
    imap_account, mailbox, settings
):
    settings.HUB_EMAIL_MESSAGE_MAX_BYTES = 100_000
    mailbox.append(with_attachment(text="Please find our offer.\n"), message(subject="After"))

    result = mailbox_sync(account=imap_account)

    assert result.status == "completed" and result.new == 2
    big = Email.objects.get(email_account=imap_account, subject="The big offer")
    assert "Please find our offer." in big.body_text and big.uid == 1


# A server without LIST-STATUS ------------------------------------------------------------


@pytest.fixture(scope="module")
def dovecot_without_list_status() -> Iterator[Dovecot]:
    server = Dovecot.start(
        extra_config="imap_capability = IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE "
        "CONDSTORE UIDPLUS SPECIAL-USE\n"
    )
    yield server
    server.stop()


@pytest.mark.django_db
def test_without_list_status_each_folder_is_asked_with_status(
    dovecot_without_list_status, acme, alice, caplog
):
    address = "status-only@mail.test"
    mailbox = Mailbox(
        server=dovecot_without_list_status,
        address=address,
        password=dovecot_without_list_status.user_add(address),
    )
    account = account_on(mailbox, company=acme, user=alice)
    mailbox.append(message(subject="One"))
    assert mailbox_sync(account=account).new == 1

    def commands(sync) -> list[str]:
        caplog.clear()
        with caplog.at_level(logging.DEBUG, logger="imapclient"):
            sync()
        sent = [r.getMessage() for r in caplog.records if r.getMessage()[:2] == "> "]
        return [line.split()[2].strip("'\"") for line in sent]

    nothing = commands(lambda: mailbox_sync(account=account))
    mailbox.append(message(subject="Two"))
    one = commands(lambda: mailbox_sync(account=account))

    assert nothing == ["LOGIN", "LIST", "STATUS", "STATUS", "LOGOUT"]
    assert one[:4] == ["LOGIN", "LIST", "STATUS", "ENABLE"] and one.count("EXAMINE") == 1, one
    assert Email.objects.filter(email_account=account).count() == 2
