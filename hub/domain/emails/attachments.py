"""Storing a synced message's attachments through Django's storage."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from hub.domain.emails.models import Email, EmailAttachment
from hub.domain.emails.parse import ParsedAttachment
from hub.domain.emails.parse_text import file_name_safe

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^-\w.]")
_EXTENSION_MAX = 16


def email_attachments_store(*, email: Email, attachments: list[ParsedAttachment]) -> int:
    """Store the attachments that have content; return how many were stored.

    ``email.has_attachments`` says whether the message had any, stored or not. Files land
    under ``email_attachments/<account id>/<email id>/<n>-<name>``: one folder per message
    and a number per attachment, so no two can meet and none can leave the folder. A message
    without attachments costs no query (sync calls this for every message)."""
    stored = 0
    if any(a.content is not None for a in attachments):
        stored = _rows_store(email, attachments)
    too_big = [a for a in attachments if a.content is None]
    if too_big:
        logger.info(
            "email %s: %d attachment(s) over the %d-byte limit not stored (%s)",
            email.pk,
            len(too_big),
            settings.HUB_EMAIL_ATTACHMENT_MAX_BYTES,
            ", ".join(f"{a.content_type}, {a.size} bytes" for a in too_big),
        )
    has_attachments = bool(attachments)
    if email.has_attachments != has_attachments:
        email.has_attachments = has_attachments
        Email.objects.filter(pk=email.pk).update(has_attachments=has_attachments)
    return stored


@transaction.atomic
def _rows_store(email: Email, attachments: list[ParsedAttachment]) -> int:
    rows: list[EmailAttachment] = []
    try:
        for index, attachment in enumerate(attachments, start=1):
            if attachment.content is not None:
                rows.append(_saved(email, attachment, attachment.content, index))
        EmailAttachment.objects.bulk_create(rows)
    except BaseException:
        for row in rows:  # the rows roll back; their files go too
            row.file_path.delete(save=False)
        raise
    return len(rows)


def _saved(
    email: Email, attachment: ParsedAttachment, content: bytes, index: int
) -> EmailAttachment:
    file_name = file_name_safe(
        attachment.file_name, content_type=attachment.content_type, index=index
    )
    row = EmailAttachment(
        email=email,
        file_name=file_name,
        file_size=attachment.size,
        file_type=attachment.content_type[:255],
    )
    folder = f"{email.email_account_id}/{email.pk}/{index}-"
    field = row.file_path.field
    room = (field.max_length or 100) - len(str(field.upload_to)) - len(folder)
    name = storage_name(file_name, room=room)
    row.file_path.save(folder + name, ContentFile(content), save=False)
    return row


def storage_name(file_name: str, *, room: int) -> str:
    """A file-system-safe form of ``file_name`` of at most ``room`` characters (extension kept)."""
    name = _UNSAFE.sub("", file_name.strip().replace(" ", "_"))
    stem, dot, extension = name.rpartition(".")
    if not dot or not extension or len(extension) > _EXTENSION_MAX:
        stem, extension = name, ""
    stem = stem.strip(".") or "attachment"  # no hidden files, no ".."
    suffix = f".{extension}" if extension else ""
    return stem[: max(1, room - len(suffix))] + suffix
