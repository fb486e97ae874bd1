"""Raw RFC 5322 bytes → a typed message, whatever state the mail is in."""

from __future__ import annotations

import email
import email.errors
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy, utils
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Any

from django.conf import settings

from hub.domain.emails.parse_text import (
    HEADER_FACTORY,
    POLICY,
    clip,
    decode,
    file_name_safe,
    html_to_text,
    text_clean,
    words_decode,
)

FROM_EMAIL_MAX = 254
FROM_NAME_MAX = 255
SUBJECT_MAX = 500
CONTENT_TYPE_MAX = 255
_DEFECTS_MAX = 20


@dataclass(frozen=True)
class ParsedAttachment:
    file_name: str
    content_type: str
    size: int
    # None when the attachment is over HUB_EMAIL_ATTACHMENT_MAX_BYTES (name, size, type kept).
    content: bytes | None


@dataclass
class ParsedMessage:
    message_id: str | None  # as the header gives it, "<…>"; None when absent or unreadable
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_email: str
    from_name: str
    to_emails: list[str]
    cc_emails: list[str]
    bcc_emails: list[str]
    date: datetime | None  # aware, UTC
    body_text: str
    body_html: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    # What could not be read; non-empty means the message is broken and was stored with what
    # could be read (logged by the caller).
    defects: list[str] = field(default_factory=list)


# Writes an enclosed message back out with its headers as they came.
_AS_SENT = policy.default.clone(refold_source="none", linesep="\r\n")
_COMPAT32: Any = policy.compat32
# Header defects that are not a broken message: obsolete syntax, UTF-8 addresses (RFC 6532).
_BENIGN = (email.errors.ObsoleteHeaderDefect, email.errors.NonASCIILocalPartDefect)

_ID = re.compile(r"<([^<>]*)>")
_SPACE = re.compile(r"\s+")
_FOLD = re.compile(r"\r?\n")
_BARE_ID = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9!#$&^_.+-]+")


def message_parse(raw: bytes) -> ParsedMessage:
    """Parse with ``email`` (``policy.default``); never raises.

    What cannot be read is named in ``defects`` and left empty (None, "" or [])."""
    try:
        return _parse(bytes(raw))
    except Exception as exc:  # a bug of ours or of ``email``: the message is still stored
        return message_unreadable(f"unreadable: {_describe(exc)}")


def message_unreadable(defect: str) -> ParsedMessage:
    """A message of which nothing could be read, stored all the same with its ``defect``."""
    return ParsedMessage(
        message_id=None,
        in_reply_to=None,
        references=[],
        subject="",
        from_email="",
        from_name="",
        to_emails=[],
        cc_emails=[],
        bcc_emails=[],
        date=None,
        body_text="",
        body_html="",
        defects=[defect],
    )


def _parse(raw: bytes) -> ParsedMessage:
    defects: list[str] = []
    msg = _message(raw, defects)
    headers = _raw_headers(msg)
    from_email, from_name = _sender(headers, defects)
    date = _date(headers, defects)
    parsed = ParsedMessage(
        message_id=_message_id(headers, defects),
        in_reply_to=_first_id(headers, "in-reply-to", defects),
        references=_all_ids(headers, "references", defects),
        subject=_subject(headers, defects),
        from_email=from_email,
        from_name=from_name,
        to_emails=_addresses(headers, "to", defects),
        cc_emails=_addresses(headers, "cc", defects),
        bcc_emails=_addresses(headers, "bcc", defects),
        date=date,
        body_text="",
        body_html="",
    )
    try:
        _content(msg, parsed, defects)
    except Exception as exc:
        defects.append(f"content unreadable: {_describe(exc)}")
    _part_defects(msg, headers, defects)
    parsed.defects = list(dict.fromkeys(defects))[:_DEFECTS_MAX]
    return parsed


def _message(raw: bytes, defects: list[str]) -> EmailMessage:
    try:
        return email.message_from_bytes(raw, _class=EmailMessage, policy=POLICY)
    except Exception as exc:
        defects.append(f"unparsable MIME structure: {_describe(exc)}")
    # Headers only: the body stays one text part, read as the message's text.
    for fallback in (POLICY, _COMPAT32):
        try:
            parser = BytesParser(_class=EmailMessage, policy=fallback)
            return parser.parsebytes(raw, headersonly=True)
        except Exception as exc:
            defects.append(f"unparsable headers: {_describe(exc)}")
    msg = EmailMessage(policy=_COMPAT32)
    msg.set_payload(raw.decode("ascii", "surrogateescape"))
    return msg


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# Headers ---------------------------------------------------------------------------------


def _raw_headers(msg: Message) -> dict[str, list[str]]:
    """Each header's values as written (folding removed), by lower-case name."""
    headers: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        if isinstance(value, str):
            headers.setdefault(name.lower(), []).append(_FOLD.sub("", value))
    return headers


def _header(name: str, value: str, defects: list[str]) -> Any:
    """``policy.default``'s object for the header, its defects recorded; None when it fails."""
    try:
        header = HEADER_FACTORY(name, value)
    except Exception as exc:
        defects.append(f"{name} header unreadable: {_describe(exc)}")
        return None
    for defect in header.defects:
        if isinstance(defect, _BENIGN):
            continue
        if isinstance(defect, email.errors.UndecodableBytesDefect) and _utf8(value):
            continue  # raw UTF-8 headers are allowed (RFC 6532)
        defects.append(f"{name} header: {type(defect).__name__}")
    return header


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return False
    return True


def _first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _subject(headers: dict[str, list[str]], defects: list[str]) -> str:
    value = _first(headers, "subject")
    if value is None:
        return ""
    if not _utf8(value):
        defects.append("Subject header: UndecodableBytesDefect")
    return clip(_words("Subject", value, defects).strip(), SUBJECT_MAX)


def _words(name: str, value: str, defects: list[str]) -> str:
    """Decoded text (``policy.default`` would turn bytes of an unknown charset into U+FFFD)."""
    try:
        return words_decode(value, defects)
    except Exception:
        header = _header(name, value, defects)
        return text_clean(str(header) if header is not None else value)


def _parsed_addresses(name: str, values: list[str], defects: list[str]) -> list[tuple[str, str]]:
    """(display name, lower-cased address) pairs of every value of the header."""
    found: list[tuple[str, str]] = []
    for value in values:
        header = _header(name, value, defects)
        pairs: list[tuple[str, str]] = []
        if header is not None:
            try:
                pairs = [(a.display_name, a.addr_spec) for a in header.addresses]
            except Exception as exc:
                defects.append(f"{name} header unreadable: {_describe(exc)}")
        if not any(address for _, address in pairs) and "@" in value:
            pairs = _getaddresses(value, defects)
        found += [
            (text_clean(display), text_clean(address).strip().lower())
            for display, address in pairs
            if "@" in address
        ]
    return found


def _getaddresses(value: str, defects: list[str]) -> list[tuple[str, str]]:
    try:
        pairs = utils.getaddresses([value])
    except Exception:
        return []
    return [(_words("Address", display, defects), address) for display, address in pairs]


def _addresses(headers: dict[str, list[str]], name: str, defects: list[str]) -> list[str]:
    values = headers.get(name)
    if not values:
        return []
    pairs = _parsed_addresses(name.capitalize(), values, defects)
    return list(dict.fromkeys(address for _, address in pairs))


def _sender(headers: dict[str, list[str]], defects: list[str]) -> tuple[str, str]:
    """The From address and name, else Sender's; ("", "") with a defect when neither reads."""
    for name in ("from", "sender"):
        values = headers.get(name)
        if not values:
            continue
        pairs = _parsed_addresses(name.capitalize(), values[:1], defects)
        if pairs:
            display, address = pairs[0]
            if len(address) > FROM_EMAIL_MAX:
                defects.append(f"{name.capitalize()} address longer than {FROM_EMAIL_MAX}")
                address = ""
            if "\ufffd" in display:
                display = _display_name(values[0], address, display, defects)
            return address, clip(display.strip(), FROM_NAME_MAX)
        defects.append(f"{name.capitalize()} header has no readable address")
    if "from" not in headers and "sender" not in headers:
        defects.append("no From header")
    return "", ""


def _display_name(value: str, address: str, display: str, defects: list[str]) -> str:
    """The name again, decoded like a body: the header parser replaces what is not UTF-8."""
    for name, found in _getaddresses(value, defects):
        if found.strip().lower() == address and name:
            return name
    return display


def _date(headers: dict[str, list[str]], defects: list[str]) -> datetime | None:
    value = _first(headers, "date")
    if value is None:
        defects.append("no Date header")
        return None
    try:
        date = utils.parsedate_to_datetime(text_clean(value).strip())
        if date.tzinfo is None:
            return date.replace(tzinfo=UTC)
        return date.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        defects.append("Date header unreadable")
        return None


def _ids(value: str) -> list[str]:
    return [f"<{token}>" for token in (_SPACE.sub("", t) for t in _ID.findall(value)) if token]


def _message_id(headers: dict[str, list[str]], defects: list[str]) -> str | None:
    value = _first(headers, "message-id")
    if value is None:
        return None
    ids = _ids(value)
    if ids:
        return text_clean(ids[0])
    bare = value.strip()
    if _BARE_ID.fullmatch(bare):
        # Some mailers leave the brackets off; replies cite the id with them.
        defects.append("Message-ID header without angle brackets")
        return text_clean(f"<{bare}>")
    defects.append("Message-ID header unreadable")
    return None


def _first_id(headers: dict[str, list[str]], name: str, defects: list[str]) -> str | None:
    ids = _all_ids(headers, name, defects)
    return ids[0] if ids else None


def _all_ids(headers: dict[str, list[str]], name: str, defects: list[str]) -> list[str]:
    value = _first(headers, name)
    if value is None:
        return []
    ids = list(dict.fromkeys(text_clean(token) for token in _ids(value)))
    if not ids and value.strip():
        defects.append(f"{name.title()} header unreadable")
    return ids


# Bodies and attachments ------------------------------------------------------------------


def _content(msg: EmailMessage, parsed: ParsedMessage, defects: list[str]) -> None:
    plain = _body(msg, "plain", defects)
    html = _body(msg, "html", defects)
    if plain is None and html is None:
        plain, html = _fallback_body(msg)
    if plain is not None:
        parsed.body_text = _part_text(plain, defects)
    if html is not None:
        parsed.body_html = _part_text(html, defects)
        if not parsed.body_text.strip():
            parsed.body_text = html_to_text(parsed.body_html)
    parsed.attachments = _attachments(msg, (plain, html), defects)


def _body(msg: EmailMessage, subtype: str, defects: list[str]) -> EmailMessage | None:
    try:
        part = msg.get_body((subtype,))
    except Exception as exc:
        defects.append(f"text/{subtype} body unreadable: {_describe(exc)}")
        return None
    return part if isinstance(part, EmailMessage) else None


def _fallback_body(msg: EmailMessage) -> tuple[EmailMessage | None, EmailMessage | None]:
    """The first text part that is not an attachment, for what ``get_body`` cannot place
    (a multipart without its boundary, a forwarded message, text/enriched)."""
    for part in _leaves(msg):
        maintype, _, subtype = _content_type(part).partition("/")
        if maintype in ("text", "multipart") and not _is_attachment(part):
            if subtype == "html":
                return None, part
            return part, None
    return None, None


def _leaves(msg: EmailMessage) -> Iterator[EmailMessage]:
    """Every part holding content; an enclosed message (message/*) below the top counts as
    one part, not as its own parts."""
    stack: list[Any] = [msg]
    while stack:
        part = stack.pop()
        enclosed = part is not msg and _content_type(part).startswith("message/")
        if part.is_multipart() and not enclosed:
            stack.extend(reversed(part.get_payload()))
        elif isinstance(part, EmailMessage):
            yield part


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # an unreadable Content-Type: opaque data
        return "application/octet-stream"


def _is_attachment(part: EmailMessage) -> bool:
    try:
        return part.is_attachment() or bool(part.get_filename())
    except Exception:
        return False


def _part_text(part: EmailMessage, defects: list[str]) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"{_content_type(part)} body unreadable: {_describe(exc)}")
        return ""
    if not isinstance(data, bytes):
        return ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode(data, charset, defects).replace("\x00", "").replace("\r\n", "\n")


def _attachments(
    msg: EmailMessage, bodies: tuple[EmailMessage | None, ...], defects: list[str]
) -> list[ParsedAttachment]:
    try:
        listed = {id(part) for part in msg.iter_attachments()}
    except Exception:
        listed = set()
    limit = settings.HUB_EMAIL_ATTACHMENT_MAX_BYTES
    found: list[ParsedAttachment] = []
    for part in _leaves(msg):
        if any(part is body for body in bodies) or not _counts(part, listed):
            continue
        try:
            found.append(_attachment(part, len(found) + 1, limit))
        except Exception as exc:
            defects.append(f"attachment unreadable: {_describe(exc)}")
    return found


def _counts(part: EmailMessage, listed: set[int]) -> bool:
    """An attachment: marked as one, named, listed by ``iter_attachments``, or non-text
    content that is not an inline resource of the HTML (Content-ID, no name)."""
    if id(part) in listed or _is_attachment(part):
        return True
    maintype = _content_type(part).partition("/")[0]
    return maintype not in ("text", "multipart") and part.get("content-id") is None


def _attachment(part: EmailMessage, index: int, limit: int) -> ParsedAttachment:
    content_type = _content_type(part)
    if not _MIME_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    content = _attachment_bytes(part)
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return ParsedAttachment(
        file_name=file_name_safe(name, content_type=content_type, index=index),
        content_type=content_type[:CONTENT_TYPE_MAX],
        size=len(content),
        content=content if len(content) <= limit else None,
    )


def _attachment_bytes(part: EmailMessage) -> bytes:
    if part.is_multipart():  # message/rfc822, message/delivery-status
        payload = part.get_payload()
        return b"\r\n".join(_message_bytes(m) for m in payload if isinstance(m, Message))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _message_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=_AS_SENT)
    except Exception:  # the generator refuses some broken parts; text is better than nothing
        return msg.as_string(policy=_COMPAT32).encode("utf-8", "surrogateescape")


def _part_defects(msg: EmailMessage, headers: dict[str, list[str]], defects: list[str]) -> None:
    try:
        for part in msg.walk():
            for defect in part.defects:
                defects.append(f"{_content_type(part)}: {type(defect).__name__}")
        content_type = _first(headers, "content-type")
        if content_type is not None:
            _header("Content-Type", content_type, defects)
    except Exception as exc:
        defects.append(f"MIME structure unreadable: {_describe(exc)}")
