"""The IMAP client of the mail sync: one IMAPClient connection per run, with one error type.

Port 993 is implicit TLS; any other port upgrades with STARTTLS when the server offers it and
stays plain otherwise. Folders are only EXAMINEd (read-only) and bodies fetched with
``BODY.PEEK[]``, so syncing never marks a message read. The rest of the hub sees
:class:`FolderState`, :class:`FetchedMessage` and :class:`MailServerError`; nothing else knows
IMAP.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

ErrorKind = Literal["auth", "unreachable", "protocol"]

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


class MailServerError(Exception):
    """The IMAP server refused us, could not be reached or answered nonsense.

    ``kind`` is "auth" (login refused), "unreachable" (connection refused, timed out, dropped,
    TLS failed) or "protocol" (an unexpected answer). ``str()`` is a sentence for the mailbox's
    owner and never holds a credential.
    """

    def __init__(self, message: str, *, kind: ErrorKind) -> None:
        super().__init__(message)
        self.kind = kind


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
    uid: int
    raw: bytes
    flags: frozenset[str]
    internal_date: datetime | None  # aware, UTC
    modseq: int | None

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
        self.condstore = False

    @classmethod
    @contextmanager
    def open(
        cls, *, host: str, port: int | None, username: str, password: str, timeout: float
    ) -> Iterator[ImapMailbox]:
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
                if port != IMPLICIT_TLS_PORT and client.has_capability("STARTTLS"):
                    client.starttls(_tls_context())
                client.login(username, password)
                if client.has_capability("CONDSTORE") and client.has_capability("ENABLE"):
                    mailbox.condstore = b"CONDSTORE" in (client.enable("CONDSTORE") or ())
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
        """The INBOX and the Sent folder's name ("inbox" / "sent"); Sent may be missing."""
        with self._call():
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

    def select(self, name: str) -> FolderState:
        """EXAMINE a folder (read-only)."""
        with self._call():
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

    def fetch(self, uids: list[int]) -> list[FetchedMessage]:
        """The messages, in UID order, without setting \\Seen; expunged ones are left out."""
        items = ["BODY.PEEK[]", "FLAGS", "INTERNALDATE"] + (["MODSEQ"] if self.condstore else [])
        with self._call():
            answer = self._client.fetch(uids, items)
        messages = []
        for uid in sorted(answer):
            data = answer[uid]
            raw = data.get(b"BODY[]")
            if raw is None:
                continue
            internal = data.get(b"INTERNALDATE")
            modseq = data.get(b"MODSEQ")
            messages.append(
                FetchedMessage(
                    uid=uid,
                    raw=bytes(raw),
                    flags=_flags(data.get(b"FLAGS")),
                    internal_date=internal.astimezone(UTC) if internal is not None else None,
                    modseq=int(modseq[0]) if modseq else None,
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
