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


def email_attachments_store(
    *, email: Email, attachments: list[ParsedAttachment], written: list[str] | None = None
) -> int:
    """Store the attachments that have content; return how many were stored.

    ``email.has_attachments`` says whether the message had any, stored or not. Files land
    under ``email_attachments/<account id>/<email id>/<n>-<name>``: one folder per message
    and a number per attachment, so no two can meet and none can leave the folder. A message
    without attachments costs no query (sync calls this for every message). ``written``
    receives the names of the files written, for a caller whose transaction may yet roll back
    (:func:`attachment_files_delete`)."""
    stored = 0
    if any(a.content is not None for a in attachments):
        stored = _rows_store(email, attachments, written)
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
def _rows_store(
    email: Email, attachments: list[ParsedAttachment], written: list[str] | None
) -> int:
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
    if written is not None:
        written.extend(row.file_path.name for row in rows if row.file_path.name)
    return len(rows)


def attachment_files_delete(*, names: list[str]) -> None:
    """Delete attachment files whose rows were rolled back."""
    storage = EmailAttachment._meta.get_field("file_path").storage  # type: ignore[union-attr]
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not delete the attachment file %s", name, exc_info=True)


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
