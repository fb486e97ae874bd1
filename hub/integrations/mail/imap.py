"""The IMAP client of the mail sync: one IMAPClient connection per run, with one error type.

Port 993 is implicit TLS; any other port upgrades with STARTTLS. A server that offers no
STARTTLS is not sent the password (:func:`plaintext_login_allowed`: only one on this machine,
or with ``allow_plaintext``). A folder's state is read with STATUS (all folders in the LIST
when the server has LIST-STATUS) so that an unchanged folder is never EXAMINEd; folders are
only EXAMINEd (read-only) and bodies fetched with ``BODY.PEEK``, so syncing never marks a
message read. A message larger than ``max_bytes`` is never fetched whole: its header, its
first text part (cut at :data:`TEXT_PART_MAX_BYTES`) and the list of its attachments stand
for it. The rest of the hub sees :class:`FolderStatus`, :class:`FolderState`,
:class:`FetchedMessage` and :class:`MailServerError`; nothing else knows IMAP.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError
from imapclient.imap_utf7 import decode as utf7_decode
from imapclient.response_parser import parse_response

from hub.integrations.mail.imap_parts import (
    HEADER_MAX_BYTES,
    TEXT_PART_MAX_BYTES,
    attachments_listed,
    stand_in,
    text_part,
)

ErrorKind = Literal["auth", "unreachable", "protocol", "insecure"]

IMPLICIT_TLS_PORT = 993
SEEN = "\\Seen"
FLAGGED = "\\Flagged"
# Where servers without SPECIAL-USE keep sent mail, most common first (compared case-blind).
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "[Gmail]/Sent Mail",
    "[Google Mail]/Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "INBOX.Sent Items",
    "INBOX.Sent Messages",
)
# UIDs per FETCH of flags or sizes: keeps the command line well under servers' limits.
_FLAGS_CHUNK = 1000
_STATUS_ITEMS = ("UIDVALIDITY", "UIDNEXT")


class MailServerError(Exception):
    """The IMAP server refused us, could not be reached or answered nonsense.

    ``kind`` is "auth" (login refused), "unreachable" (connection refused, timed out, dropped,
    TLS failed), "insecure" (no TLS offered, so the password was not sent) or "protocol" (an
    unexpected answer). ``str()`` is a sentence for the mailbox's owner and never holds a
    credential.
    """

    def __init__(self, message: str, *, kind: ErrorKind) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class FolderStatus:
    """A folder as ``STATUS`` describes it, without selecting it; ``highest_modseq`` only
    when the server has CONDSTORE (and ENABLE)."""

    uidvalidity: int
    uidnext: int | None
    highest_modseq: int | None


@dataclass(frozen=True)
class FolderState:
    """A folder as ``EXAMINE`` describes it; ``highest_modseq`` only with CONDSTORE."""

    name: str
    uidvalidity: int
    uidnext: int | None
    highest_modseq: int | None
    exists: int


@dataclass(frozen=True)
class FetchedMessage:
    """A fetched message. ``oversize`` is set (its real size in bytes) when it was larger than
    the limit: ``raw`` is then its header and first text part only, as a small well-formed
    message, and ``attachments_listed`` names its other parts: (file name or "", MIME type,
    approximate decoded size in bytes)."""

    uid: int
    raw: bytes
    flags: frozenset[str]
    internal_date: datetime | None  # aware, UTC
    modseq: int | None
    oversize: int | None = None
    attachments_listed: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def seen(self) -> bool:
        return SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return FLAGGED in self.flags


def _flags(value) -> frozenset[str]:
    return frozenset(
        f.decode("ascii", "replace") if isinstance(f, bytes) else str(f) for f in value or ()
    )


class ImapMailbox:
    """A logged-in connection; use :meth:`open` as a context manager."""

    def __init__(self, client: IMAPClient, *, host: str, port: int, password: str) -> None:
        self._client = client
        self._host = host
        self._port = port
        self._password = password
        self._statuses: dict[str, FolderStatus] = {}
        self._condstore_offered = False
        self.condstore = False  # enabled, at the first EXAMINE

    @classmethod
    @contextmanager
    def open(
        cls,
        *,
        host: str,
        port: int | None,
        username: str,
        password: str,
        timeout: float,
        allow_plaintext: bool = False,
    ) -> Iterator[ImapMailbox]:
        """Connect and log in. Without TLS (no STARTTLS offered) the password is sent only to
        this machine or with ``allow_plaintext``; otherwise MailServerError "insecure"."""
        port = port or IMPLICIT_TLS_PORT
        implicit = port == IMPLICIT_TLS_PORT
        with _errors(host, port, password, timeout):
            client = IMAPClient(
                host,
                port=port,
                ssl=implicit,
                ssl_context=_tls_context() if implicit else None,
                timeout=timeout,
            )
        client.normalise_times = False
        mailbox = cls(client, host=host, port=port, password=password)
        try:
            with _errors(host, port, password, timeout):
                if not implicit and client.has_capability("STARTTLS"):
                    client.starttls(_tls_context())
                elif not implicit and not (allow_plaintext or _peer_is_loopback(client)):
                    raise MailServerError(
                        f"The IMAP server {host}:{port} offers no TLS (STARTTLS), so the hub "
                        "did not send the password. Use port 993, or ask the hub's operator "
                        "to set HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN.",
                        kind="insecure",
                    )
                client.login(username, password)
                mailbox._condstore_offered = client.has_capability(
                    "CONDSTORE"
                ) and client.has_capability("ENABLE")
            yield mailbox
        finally:
            mailbox.close()

    def close(self) -> None:
        try:
            self._client.logout()
        except (OSError, IMAPClientError):
            # Already gone: nothing is left to close.
            with suppress(OSError, IMAPClientError):
                self._client.shutdown()

    @contextmanager
    def _call(self) -> Iterator[None]:
        with _errors(self._host, self._port, self._password, None):
            yield

    def folders(self) -> dict[str, str]:
        """The INBOX and the Sent folder's name ("inbox" / "sent"); Sent may be missing.
        With LIST-STATUS the folders' STATUS comes in the same answer (see :meth:`status`)."""
        with self._call():
            if self._client.has_capability("LIST-STATUS"):
                listed = self._list_with_status()
            else:
                listed = self._client.list_folders()
        names = [name for _flags_, _delim, name in listed]
        found = {"inbox": next((n for n in names if n.upper() == "INBOX"), "INBOX")}
        sent = next((name for flags, _d, name in listed if b"\\Sent" in flags), None)
        if sent is None:
            by_lower = {n.lower(): n for n in names}
            sent = next((by_lower[c.lower()] for c in SENT_NAMES if c.lower() in by_lower), None)
        if sent is not None:
            found["sent"] = sent
        return found

    def _status_items(self) -> tuple[str, ...]:
        return _STATUS_ITEMS + (("HIGHESTMODSEQ",) if self._condstore_offered else ())

    def _list_with_status(self) -> list:
        """``LIST "" "*" RETURN (STATUS (...))`` (RFC 5819), through IMAPClient's imaplib
        object as its own ``list_folders`` does: IMAPClient has no LIST return options."""
        imap = self._client._imap
        options = ("SPECIAL-USE " if self._client.has_capability("SPECIAL-USE") else "") + (
            f"STATUS ({' '.join(self._status_items())})"
        )
        imap.untagged_responses.pop("STATUS", None)
        typ, data = imap._simple_command("LIST", '""', '"*"', "RETURN", f"({options})")
        self._client._checkok("LIST", typ, data)
        typ, data = imap._untagged_response(typ, data, "LIST")
        statuses = imap.untagged_responses.pop("STATUS", [])
        listed = self._client._proc_folder_list(data)
        # A folder whose STATUS cannot be read here is asked with STATUS (see :meth:`status`).
        with suppress(IMAPClientError):
            parsed = parse_response([item for item in statuses if item not in (b"", None)])
            for name, items in zip(parsed[::2], parsed[1::2], strict=False):
                name = str(name) if isinstance(name, int) else name
                if isinstance(name, bytes) and self._client.folder_encode:
                    name = utf7_decode(name)
                with suppress(KeyError, TypeError, ValueError):
                    answer = dict(zip(items[::2], items[1::2], strict=True))
                    self._statuses[name] = _folder_status(answer)
        return listed

    def status(self, name: str) -> FolderStatus:
        """A folder's UIDVALIDITY, UIDNEXT (and HIGHESTMODSEQ) without selecting it: from the
        LIST-STATUS answer of :meth:`folders`, else with one STATUS command."""
        if name in self._statuses:
            return self._statuses.pop(name)
        with self._call():
            answer = self._client.folder_status(name, self._status_items())
        return _folder_status(answer)

    def select(self, name: str) -> FolderState:
        """EXAMINE a folder (read-only); CONDSTORE is enabled before the first one."""
        with self._call():
            if self._condstore_offered and not self.condstore:
                self.condstore = b"CONDSTORE" in (self._client.enable("CONDSTORE") or ())
            answer = self._client.select_folder(name, readonly=True)
        modseq = answer.get(b"HIGHESTMODSEQ") if self.condstore else None
        uidnext = answer.get(b"UIDNEXT")
        return FolderState(
            name=name,
            uidvalidity=int(answer[b"UIDVALIDITY"]),
            uidnext=int(uidnext) if uidnext is not None else None,
            highest_modseq=int(modseq) if modseq is not None else None,
            exists=int(answer.get(b"EXISTS", 0)),
        )

    def uids(self, *, after: int = 0, since: date | None = None) -> list[int]:
        """UIDs above ``after`` (and with an internal date on or after ``since``), ascending."""
        criteria: list = ["UID", f"{after + 1}:*"] if after else []
        if since is not None:
            criteria += ["SINCE", since]
        with self._call():
            found = self._client.search(criteria or ["ALL"])
        # "n:*" always matches the folder's last message, even when its UID is below n.
        return sorted(uid for uid in found if uid > after)

    def fetch(
        self,
        uids: list[int],
        *,
        sizes: dict[int, int] | None = None,
        max_bytes: int | None = None,
    ) -> list[FetchedMessage]:
        """The messages, in UID order, without setting \\Seen; expunged ones are left out.
        Those whose size (``sizes``) is over ``max_bytes`` come as ``oversize`` stand-ins."""
        sizes = sizes or {}
        big = {u: sizes[u] for u in uids if max_bytes is not None and sizes.get(u, 0) > max_bytes}
        whole = [uid for uid in uids if uid not in big]
        answer = {}
        if whole:
            with self._call():
                answer = self._client.fetch(whole, ["BODY.PEEK[]", *self._meta_items()])
        messages = [
            self._fetched(uid, data, bytes(data[b"BODY[]"]))
            for uid, data in answer.items()
            if data.get(b"BODY[]") is not None
        ]
        if big:
            messages += self._fetch_oversize(big)
        return sorted(messages, key=lambda m: m.uid)

    def _meta_items(self) -> list[str]:
        return ["FLAGS", "INTERNALDATE"] + (["MODSEQ"] if self.condstore else [])

    def _fetched(self, uid: int, data: dict, raw: bytes, **extra) -> FetchedMessage:
        internal = data.get(b"INTERNALDATE")
        modseq = data.get(b"MODSEQ")
        return FetchedMessage(
            uid=uid,
            raw=raw,
            flags=_flags(data.get(b"FLAGS")),
            internal_date=internal.astimezone(UTC) if internal is not None else None,
            modseq=int(modseq[0]) if modseq else None,
            **extra,
        )

    def _fetch_oversize(self, sizes: dict[int, int]) -> list[FetchedMessage]:
        """Header, BODYSTRUCTURE, then the first text part (cut), never the whole message."""
        header_item = f"BODY.PEEK[HEADER]<0.{HEADER_MAX_BYTES}>"
        with self._call():
            answer = self._client.fetch(
                sorted(sizes), [header_item, "BODYSTRUCTURE", *self._meta_items()]
            )
        texts: dict[int, tuple[str, tuple]] = {}
        for uid, data in answer.items():
            text = text_part(data.get(b"BODYSTRUCTURE"))
            if text is not None:
                texts[uid] = text
        bodies: dict[int, bytes] = {}
        for section in sorted({section for section, _part in texts.values()}):
            wanted = [uid for uid, (s, _p) in texts.items() if s == section]
            key = f"BODY[{section}]<0>".encode()
            with self._call():
                got = self._client.fetch(wanted, [f"BODY.PEEK[{section}]<0.{TEXT_PART_MAX_BYTES}>"])
            bodies.update({uid: bytes(d.get(key) or b"") for uid, d in got.items()})
        messages = []
        for uid, data in answer.items():
            header = data.get(b"BODY[HEADER]<0>")
            if header is None:
                continue
            text = texts.get(uid)
            raw = stand_in(bytes(header), text[1] if text else None, bodies.get(uid, b""))
            skip = text[0] if text else None
            messages.append(
                self._fetched(
                    uid,
                    data,
                    raw,
                    oversize=sizes[uid],
                    attachments_listed=attachments_listed(data.get(b"BODYSTRUCTURE"), skip),
                )
            )
        return messages

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """The messages' sizes in bytes (``RFC822.SIZE``), to cut batches by weight too."""
        found: dict[int, int] = {}
        for start in range(0, len(uids), _FLAGS_CHUNK):
            with self._call():
                answer = self._client.fetch(uids[start : start + _FLAGS_CHUNK], ["RFC822.SIZE"])
            found.update({uid: int(data.get(b"RFC822.SIZE") or 0) for uid, data in answer.items()})
        return found

    def flags(self, uids: list[int]) -> dict[int, frozenset[str]]:
        """The current flags of some messages."""
        found: dict[int, frozenset[str]] = {}
        for start in range(0, len(uids), _FLAGS_CHUNK):
            with self._call():
                answer = self._client.fetch(uids[start : start + _FLAGS_CHUNK], ["FLAGS"])
            found.update({uid: _flags(data.get(b"FLAGS")) for uid, data in answer.items()})
        return found

    def flags_changed(self, *, since_modseq: int, up_to_uid: int) -> dict[int, frozenset[str]]:
        """Flags of the messages (UID ≤ ``up_to_uid``) changed after ``since_modseq``
        (CONDSTORE: ``UID SEARCH MODSEQ``, then their FLAGS)."""
        if not self.condstore or up_to_uid < 1:
            return {}
        with self._call():
            changed = self._client.search(
                ["MODSEQ", str(since_modseq + 1), "UID", f"1:{up_to_uid}"]
            )
        return self.flags(sorted(uid for uid in changed if uid <= up_to_uid))


def plaintext_login_allowed(address: str, *, allowed: bool = False) -> bool:
    """Whether a password may be sent without TLS to this address: only to this machine
    (127.0.0.0/8, ::1, "localhost"), unless ``allowed`` (HUB_EMAIL_ALLOW_PLAINTEXT_LOGIN)."""
    if allowed or address.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _peer_is_loopback(client: IMAPClient) -> bool:
    """Decided on the address connected to, not the name typed: what the password would reach."""
    return plaintext_login_allowed(str(client.socket().getpeername()[0]))


def _folder_status(answer: dict) -> FolderStatus:
    uidnext = answer.get(b"UIDNEXT")
    # 0: a folder without persistent mod-sequences, which EXAMINE reports as NOMODSEQ (None).
    modseq = answer.get(b"HIGHESTMODSEQ")
    return FolderStatus(
        uidvalidity=int(answer[b"UIDVALIDITY"]),
        uidnext=int(uidnext) if uidnext is not None else None,
        highest_modseq=int(modseq) if modseq else None,
    )


@cache
def _tls_context() -> ssl.SSLContext:
    """One verifying context per process: loading the system's CA store takes tens of ms."""
    return ssl.create_default_context()


@contextmanager
def _errors(host: str, port: int, password: str, timeout: float | None) -> Iterator[None]:
    """Turn what IMAPClient, imaplib, ssl and socket raise into one clear MailServerError."""
    server = f"{host}:{port}"
    try:
        yield
    except LoginError as exc:
        raise MailServerError(
            f"The IMAP server {server} refused the login ({_clean(exc, password)}): "
            "check the user name and password.",
            kind="auth",
        ) from None
    except IMAPClientAbortError as exc:
        raise MailServerError(
            f"The connection to the IMAP server {server} was lost ({_clean(exc, password)}).",
            kind="unreachable",
        ) from None
    except IMAPClientError as exc:
        raise MailServerError(
            f"The IMAP server {server} answered unexpectedly: {_clean(exc, password)}",
            kind="protocol",
        ) from None
    except TimeoutError:
        wait = f" within {timeout:g} s" if timeout else " in time"
        raise MailServerError(
            f"The IMAP server {server} did not answer{wait}.", kind="unreachable"
        ) from None
    except ssl.SSLError as exc:
        raise MailServerError(
            f"A secure (TLS) connection to the IMAP server {server} failed: "
            f"{_clean(exc.reason or exc, password)}.",
            kind="unreachable",
        ) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise MailServerError(
            f"The IMAP server {server} could not be reached ({_clean(reason, password)}).",
            kind="unreachable",
        ) from None


_BYTES_REPR = re.compile(r"^b(['\"])(.*)\1$", re.DOTALL)


def _clean(value: object, password: str) -> str:
    """The server's words as text, without the password in case a server echoed it."""
    text = str(value).strip()
    if match := _BYTES_REPR.match(text):  # imaplib passes the server's bytes on as "b'…'"
        text = match.group(2)
    text = text[:300] or value.__class__.__name__
    return text.replace(password, "***") if password else text
