"""Attachments of synced mail stored through Django's storage (a temporary MEDIA_ROOT)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from pathlib import Path

import pytest

from hub.domain.emails.attachments import email_attachments_store, storage_name
from hub.domain.emails.models import Email, EmailAttachment
from hub.domain.emails.parse import ParsedAttachment, message_parse
from tests import factories


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def email(db):
    return factories.EmailFactory()


def _attachment(name: str, content: bytes | None, size: int | None = None) -> ParsedAttachment:
    return ParsedAttachment(
        file_name=name,
        content_type="application/pdf",
        size=len(content) if content is not None else (size or 0),
        content=content,
    )


def _stored(email: Email) -> list[EmailAttachment]:
    return list(EmailAttachment.objects.filter(email=email).order_by("id"))


def test_parsed_attachments_are_stored_as_files_and_rows(media_root, email, settings):
    settings.HUB_EMAIL_ATTACHMENT_MAX_BYTES = 10_000
    msg = EmailMessage()
    msg["From"] = "bob@example.org"
    msg.set_content("Contract and photo attached.")
    msg.add_attachment(b"%PDF-1.4 contract", maintype="application", subtype="pdf",
                       filename="Contract v2.pdf")  # fmt: skip
    msg.add_attachment(b"\xff\xd8photo", maintype="image", subtype="jpeg", filename="façade.jpg")
    parsed = message_parse(msg.as_bytes())

    assert email_attachments_store(email=email, attachments=parsed.attachments) == 2

    rows = _stored(email)
    assert [(r.file_name, r.file_type, r.file_size) for r in rows] == [
        ("Contract v2.pdf", "application/pdf", 17),
        ("façade.jpg", "image/jpeg", 7),
    ]
    folder = f"email_attachments/{email.email_account_id}/{email.pk}/"
    assert rows[0].file_path.name == folder + "1-Contract_v2.pdf"
    assert rows[1].file_path.name == folder + "2-façade.jpg"
    assert (media_root / rows[0].file_path.name).read_bytes() == b"%PDF-1.4 contract"
    with rows[1].file_path.open("rb") as stored:
        assert stored.read() == b"\xff\xd8photo"
    email.refresh_from_db()
    assert email.has_attachments is True


def test_names_cannot_escape_or_collide(media_root, email):
    names = ["../../outside.pdf", "same.pdf", "same.pdf", "..", "/etc/passwd", "a\x00b.pdf"]
    attachments = [_attachment(name, f"{n}".encode()) for n, name in enumerate(names)]

    assert email_attachments_store(email=email, attachments=attachments) == len(names)

    rows = _stored(email)
    paths = [Path(r.file_path.path).resolve() for r in rows]
    folder = media_root / "email_attachments" / str(email.email_account_id) / str(email.pk)
    assert all(path.parent == folder.resolve() for path in paths)
    assert len(set(paths)) == len(names)
    assert [p.read_bytes() for p in paths] == [f"{n}".encode() for n in range(len(names))]
    assert [p.name for p in paths][:3] == ["1-outside.pdf", "2-same.pdf", "3-same.pdf"]
    assert [r.file_name for r in rows] == [
        "outside.pdf",
        "same.pdf",
        "same.pdf",
        "attachment-4.pdf",
        "passwd",
        "ab.pdf",
    ]
    assert sorted(p.name for p in media_root.iterdir()) == ["email_attachments"]


def test_over_the_limit_is_not_stored_but_logged_once_and_counted(
    media_root, email, settings, caplog
):
    settings.HUB_EMAIL_ATTACHMENT_MAX_BYTES = 1000
    msg = EmailMessage()
    msg["From"] = "bob@example.org"
    msg.set_content("Two files.")
    msg.add_attachment(b"s" * 1000, maintype="application", subtype="pdf", filename="fits.pdf")
    msg.add_attachment(b"b" * 5000, maintype="video", subtype="mp4", filename="huge.mp4")
    parsed = message_parse(msg.as_bytes())

    with caplog.at_level(logging.INFO, logger="hub.domain.emails.attachments"):
        stored = email_attachments_store(email=email, attachments=parsed.attachments)

    assert stored == 1
    assert [r.file_name for r in _stored(email)] == ["fits.pdf"]
    lines = [r for r in caplog.records if r.name == "hub.domain.emails.attachments"]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO
    assert "5000 bytes" in lines[0].getMessage()
    assert "1000-byte limit" in lines[0].getMessage()
    email.refresh_from_db()
    assert email.has_attachments is True


def test_has_attachments_even_when_none_could_be_stored(media_root, email):
    stored = email_attachments_store(email=email, attachments=[_attachment("x.pdf", None, 9)])

    assert stored == 0
    assert _stored(email) == []
    email.refresh_from_db()
    assert email.has_attachments is True
    assert not (media_root / "email_attachments").exists()


def test_no_attachments_clears_the_flag(media_root, email):
    Email.objects.filter(pk=email.pk).update(has_attachments=True)
    email.refresh_from_db()

    assert email_attachments_store(email=email, attachments=[]) == 0

    email.refresh_from_db()
    assert email.has_attachments is False


def test_long_names_fit_the_column_and_keep_their_extension(media_root, email):
    name = "Quarterly report " * 20 + ".xlsx"

    email_attachments_store(email=email, attachments=[_attachment(name, b"data")])

    (row,) = _stored(email)
    assert len(row.file_name) == 255
    assert row.file_name.startswith("Quarterly report Quarterly")
    assert row.file_name.endswith(".xlsx")
    assert len(row.file_path.name) <= 100
    assert row.file_path.name.endswith(".xlsx")
    assert Path(row.file_path.path).read_bytes() == b"data"


def test_tenants_attachments_live_in_their_own_account_folders(media_root, acme, globex):
    mine = factories.EmailFactory(email_account=factories.EmailAccountFactory(company=acme))
    theirs = factories.EmailFactory(email_account=factories.EmailAccountFactory(company=globex))

    for email in (mine, theirs):
        email_attachments_store(email=email, attachments=[_attachment("q.pdf", b"x")])

    (a,), (b,) = _stored(mine), _stored(theirs)
    assert a.file_path.name.split("/")[1] == str(mine.email_account_id)
    assert b.file_path.name.split("/")[1] == str(theirs.email_account_id)
    assert a.file_path.name != b.file_path.name


@pytest.mark.parametrize(
    ("name", "room", "expected"),
    [
        ("Contract v2.pdf", 50, "Contract_v2.pdf"),
        ("...", 50, "attachment"),
        ("???.pdf", 50, "attachment.pdf"),
        (".hidden", 50, "attachment.hidden"),
        ("../../x.pdf", 50, "x.pdf"),
        ("résumé final.docx", 50, "résumé_final.docx"),
        ("x" * 80 + ".tar.gz", 20, "x" * 17 + ".gz"),
        ("archive." + "z" * 40, 10, "archive.zz"),
    ],
)
def test_storage_name(name, room, expected):
    assert storage_name(name, room=room) == expected


def test_a_message_without_attachments_costs_no_query(email, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert email_attachments_store(email=email, attachments=[]) == 0


def test_files_of_rows_that_fail_are_removed(media_root, db):
    account = factories.EmailAccountFactory()
    unsaved = Email(email_account=account, message_id="<never-saved@example.com>")

    with pytest.raises(ValueError, match="unsaved related object"):
        email_attachments_store(
            email=unsaved, attachments=[_attachment("a.pdf", b"a"), _attachment("b.pdf", b"b")]
        )

    assert EmailAttachment.objects.count() == 0
    assert [p for p in media_root.rglob("*") if p.is_file()] == []
