"""Raw RFC 5322 bytes → a typed message (stub: being written)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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


def message_parse(raw: bytes) -> ParsedMessage:
    """Parse with ``email`` (``policy.default``); never raises."""
    raise NotImplementedError
