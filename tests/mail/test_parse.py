"""message_parse on real mail: well-formed messages built with ``email`` itself, hand-broken
ones, and the standard library's own corpus of odd messages (tests/mail/corpus)."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from hub.domain.emails.parse import ParsedMessage, message_parse

CORPUS = Path(__file__).parent / "corpus"
# The corpus messages the standard library itself reads as broken (MIME or header defects).
BROKEN = {
    "msg_05.txt",
    "msg_14.txt",
    "msg_15.txt",
    "msg_17.txt",
    "msg_19.txt",
    "msg_25.txt",
    "msg_29.txt",
    "msg_31.txt",
    "msg_33.txt",
    "msg_35.txt",
    "msg_38.txt",
    "msg_39.txt",
    "msg_41.txt",
    "msg_42.txt",
    "msg_43.txt",
    "msg_47.txt",
}
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "Alice Example <Alice@Example.COM>")
    msg["To"] = headers.pop("To", "bob@example.org")
    msg["Subject"] = headers.pop("Subject", "Quarterly numbers")
    msg["Date"] = headers.pop("Date", "Tue, 04 Mar 2025 10:15:00 +0100")
    msg["Message-ID"] = headers.pop("Message_ID", "<q1-2025@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def _raw(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("latin-1")


def _storable(parsed: ParsedMessage) -> None:
    """Every string fits its column and PostgreSQL takes it (no NUL, no lone surrogate)."""
    strings = [
        parsed.subject,
        parsed.from_email,
        parsed.from_name,
        parsed.body_text,
        parsed.body_html,
        parsed.message_id or "",
        parsed.in_reply_to or "",
        *parsed.references,
        *parsed.to_emails,
        *parsed.cc_emails,
        *parsed.bcc_emails,
        *(a.file_name for a in parsed.attachments),
        *(a.content_type for a in parsed.attachments),
    ]
    for value in strings:
        assert isinstance(value, str)
        assert not _UNSTORABLE.search(value), value
    assert len(parsed.subject) <= 500
    assert len(parsed.from_email) <= 254
    assert len(parsed.from_name) <= 255
    for attachment in parsed.attachments:
        assert "/" not in attachment.file_name and "\\" not in attachment.file_name
        assert not attachment.file_name.startswith(".")
        assert 0 < len(attachment.file_name) <= 255
    assert parsed.date is None or parsed.date.tzinfo is not None


def test_multipart_alternative_reads_headers_and_both_bodies():
    msg = _message(
        To="Bob <Bob@Example.org>, carol@example.net, bob@example.org",
        Cc="Dave <dave@example.net>",
        Bcc="eve@example.net",
        In_Reply_To="<parent@example.com>",
        References="<root@example.com> <parent@example.com>",
    )
    msg.set_content("Hello Bob,\nthe numbers are in.\n")
    msg.add_alternative("<p>Hello Bob,</p><p>the numbers are <b>in</b>.</p>", subtype="html")

    parsed = message_parse(msg.as_bytes())

    assert parsed.from_email == "alice@example.com"
    assert parsed.from_name == "Alice Example"
    assert parsed.to_emails == ["bob@example.org", "carol@example.net"]
    assert parsed.cc_emails == ["dave@example.net"]
    assert parsed.bcc_emails == ["eve@example.net"]
    assert parsed.subject == "Quarterly numbers"
    assert parsed.date == datetime(2025, 3, 4, 9, 15, tzinfo=UTC)
    assert parsed.message_id == "<q1-2025@example.com>"
    assert parsed.in_reply_to == "<parent@example.com>"
    assert parsed.references == ["<root@example.com>", "<parent@example.com>"]
    assert parsed.body_text == "Hello Bob,\nthe numbers are in.\n"
    assert parsed.body_html.startswith("<p>Hello Bob,</p>")
    assert parsed.attachments == []
    assert parsed.defects == []


def test_only_html_gets_a_plain_text_rendering():
    msg = _message()
    msg.set_content(
        "<html><head><title>Newsletter</title><style>p {color: red}</style></head><body>"
        "<h1>Caf&eacute;   news</h1>\n<p>Fish &amp; chips,\n   twice&nbsp;a week.</p>"
        "<script>alert('x')</script><div>Bye<br>now</div></body></html>",
        subtype="html",
    )

    parsed = message_parse(msg.as_bytes())

    assert parsed.body_text == "Café news\n\nFish & chips, twice a week.\n\nBye\nnow"
    assert "<h1>" in parsed.body_html
    assert parsed.defects == []


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("iso-8859-1", "Grüße aus Köln, ça va?"),
        ("windows-1252", "“Quoted” – and €5"),
        ("iso-2022-jp", "日本語のメールです"),
        ("koi8-r", "Привет"),
    ],
)
def test_bodies_and_encoded_word_subjects_in_legacy_charsets(charset, text):
    raw = (
        f"From: {Header(text[:4], charset).encode()} <sender@example.jp>\n"
        "To: you@example.com\n"
        f"Subject: {Header(text, charset).encode()}\n"
        "Date: Tue, 04 Mar 2025 10:15:00 +0900\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: text/plain; charset="{charset}"\n'
        "Content-Transfer-Encoding: 8bit\n\n"
    )
    parsed = message_parse(raw.encode("ascii") + text.encode(charset) + b"\r\n")

    assert parsed.subject == text
    assert parsed.from_name == text[:4]
    assert parsed.body_text.strip() == text
    assert parsed.defects == []


def test_unknown_charset_falls_back_to_utf8_then_latin1():
    utf8 = (
        _raw(
            "From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n"
            "Subject: =?x-nonsense?q?caf=C3=A9?= and =?x-nonsense?q?caf=E9?=\n"
            "Content-Type: text/plain; charset=x-nonsense\n\n"
        )
        + "déjà vu".encode()
    )
    latin = utf8.replace("déjà vu".encode(), "déjà vu".encode("latin-1"))

    for raw in (utf8, latin):
        parsed = message_parse(raw)
        assert parsed.subject == "café and café"
        assert parsed.body_text == "déjà vu"
        assert "unknown charset 'x-nonsense'" in parsed.defects
        _storable(parsed)


def test_raw_eight_bit_headers_are_read_as_utf8_else_windows_1252():
    raw = (
        b"From: J\xc3\xbcrgen M\xc3\xbcller <jm@example.de>\r\n"
        b"Subject: Stra\xdfe \x93quoted\x94\r\n"
        b"Date: Tue, 04 Mar 2025 10:15:00 +0000\r\n\r\nhi\r\n"
    )
    latin = raw.replace(b"J\xc3\xbcrgen M\xc3\xbcller", b"Fran\xe7ois")

    parsed = message_parse(raw)

    assert parsed.from_name == "Jürgen Müller"
    assert parsed.subject == "Straße “quoted”"
    # Raw UTF-8 headers are allowed (RFC 6532); other raw bytes are named.
    assert parsed.defects == ["Subject header: UndecodableBytesDefect"]
    assert message_parse(latin).from_name == "François"
    assert "From header: UndecodableBytesDefect" in message_parse(latin).defects
    _storable(parsed)


def test_body_declared_ascii_with_utf8_bytes_is_read_as_utf8():
    raw = _raw("From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n\n") + "naïve".encode()

    assert message_parse(raw).body_text == "naïve"


def test_message_ids_as_the_header_writes_them():
    missing = message_parse(_raw("From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n\nx"))
    folded = message_parse(
        _raw(
            "From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n"
            "Message-ID:\n  <folded.1234@example.com>\n"
            "In-Reply-To: Your message of Monday\n <parent.1@example.com> (Bob)\n\nx"
        )
    )
    bare = message_parse(_raw("From: a@example.com\nMessage-ID: bare.99@example.com\n\nx"))
    garbage = message_parse(_raw("From: a@example.com\nMessage-ID: what?\nReferences: none\n\nx"))

    assert missing.message_id is None
    assert not any("Message-ID" in d for d in missing.defects)
    assert folded.message_id == "<folded.1234@example.com>"
    assert folded.in_reply_to == "<parent.1@example.com>"
    assert bare.message_id == "<bare.99@example.com>"
    assert "Message-ID header without angle brackets" in bare.defects
    assert garbage.message_id is None
    assert garbage.references == []
    assert "Message-ID header unreadable" in garbage.defects
    assert "References header unreadable" in garbage.defects


def test_very_long_references_keep_order_without_duplicates():
    ids = [f"<ref.{n}.{'x' * 60}@lists.example.org>" for n in range(400)]
    folded = "\n ".join(ids + ids[:50])
    raw = _raw(f"From: a@example.com\nReferences: {folded}\nIn-Reply-To: {ids[-1]}\n\nx")

    parsed = message_parse(raw)

    assert parsed.references == ids
    assert parsed.in_reply_to == ids[-1]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date: Tue, 04 Mar 2025 23:30:00 -0500\n", datetime(2025, 3, 5, 4, 30, tzinfo=UTC)),
        ("Date: Tue, 04 Mar 2025 10:15:00 -0000\n", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
        ("Date: 4 Mar 2025 10:15:00\n", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
        ("", None),
        ("Date: yesterday at tea time\n", None),
        ("Date: Tue, 31 Feb 2025 10:15:00 +0000\n", None),
    ],
)
def test_date_is_aware_utc_or_none_with_a_defect(header, expected):
    parsed = message_parse(_raw(f"From: a@example.com\n{header}\nx"))

    assert parsed.date == expected
    if expected is None:
        assert any("Date" in d for d in parsed.defects)
    else:
        assert parsed.defects == []


def test_broken_mime_boundaries_still_give_the_text():
    no_boundary = _raw(
        "From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n"
        "Content-Type: multipart/alternative\n\n--x\nContent-Type: text/plain\n\nStill here\n--x--\n"
    )
    never_closed = _raw(
        "From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n"
        'Content-Type: multipart/mixed; boundary="outer"\n\n'
        "--outer\nContent-Type: text/plain\n\nFirst part\n"
        '--outer\nContent-Type: application/pdf; name="q.pdf"\nContent-Transfer-Encoding: base64\n\n'
        "JVBERi0xLjQK\n"
    )
    wrong_boundary = _raw(
        "From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\n"
        'Content-Type: multipart/mixed; boundary="declared"\n\n'
        "--actual\nContent-Type: text/plain\n\nLost boundary\n--actual--\n"
    )

    first = message_parse(no_boundary)
    second = message_parse(never_closed)
    third = message_parse(wrong_boundary)

    assert "Still here" in first.body_text
    assert any("NoBoundaryInMultipartDefect" in d for d in first.defects)
    assert second.body_text == "First part"
    assert [(a.file_name, a.content) for a in second.attachments] == [("q.pdf", b"%PDF-1.4\n")]
    assert any("CloseBoundaryNotFoundDefect" in d for d in second.defects)
    assert "Lost boundary" in third.body_text
    assert any("StartBoundaryNotFoundDefect" in d for d in third.defects)


def test_garbage_bytes_never_raise():
    rnd = random.Random(12)
    for size in (0, 1, 7, 100, 5000):
        raw = bytes(rnd.randrange(256) for _ in range(size))
        parsed = message_parse(raw)
        _storable(parsed)
    binary = message_parse(b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert binary.from_email == ""
    assert binary.defects


def test_nul_characters_are_removed():
    raw = _raw("From: a@example.com\nDate: Tue, 04 Mar 2025 10:15:00 +0000\nSubject: nu\x00ll\n")
    raw += b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>be\x00fore</p>"

    parsed = message_parse(raw)

    assert parsed.subject == "null"
    assert parsed.body_html == "<p>before</p>"
    assert parsed.body_text == "before"


def test_from_falls_back_to_sender_and_unreadable_from_is_empty():
    sender = message_parse(_raw("Sender: List <List@Example.org>\nSubject: s\n\nx"))
    unreadable = message_parse(_raw("From: just some words\nDate: 4 Mar 2025 10:15:00\n\nx"))
    null_sender = message_parse(_raw("From: MAILER DAEMON <>\nDate: 4 Mar 2025 10:15:00\n\nx"))

    assert (sender.from_email, sender.from_name) == ("list@example.org", "List")
    assert "no From header" not in sender.defects
    assert unreadable.from_email == ""
    assert "From header has no readable address" in unreadable.defects
    assert null_sender.from_email == ""


def test_addresses_the_header_parser_chokes_on_are_read_with_getaddresses():
    raw = _raw(
        "From: Alice <ALICE@[10.0.0.1\nTo: Bob <bob@example.org>,<\nDate: 4 Mar 2025 10:15:00\n\nx"
    )
    parsed = message_parse(raw)

    assert parsed.from_email == "alice@[10.0.0.1]"
    assert parsed.to_emails == ["bob@example.org"]
    assert any("From header unreadable" in d for d in parsed.defects)


def test_long_subject_and_from_name_are_cut_to_their_columns():
    msg = _message(Subject="word " * 200, From=f'"{"N" * 400}" <n@example.com>')
    msg.set_content("x")

    parsed = message_parse(msg.as_bytes())

    assert len(parsed.subject) <= 500
    assert parsed.subject.endswith("word…")
    assert len(parsed.from_name) == 255
    assert parsed.from_email == "n@example.com"


def test_attachments_over_the_limit_keep_name_and_size_but_no_content(settings):
    settings.HUB_EMAIL_ATTACHMENT_MAX_BYTES = 1000
    msg = _message()
    msg.set_content("See attached.")
    msg.add_attachment(b"a" * 1000, maintype="application", subtype="pdf", filename="small.pdf")
    msg.add_attachment(b"b" * 1001, maintype="application", subtype="zip", filename="big.zip")

    parsed = message_parse(msg.as_bytes())

    assert [(a.file_name, a.content_type, a.size) for a in parsed.attachments] == [
        ("small.pdf", "application/pdf", 1000),
        ("big.zip", "application/zip", 1001),
    ]
    assert parsed.attachments[0].content == b"a" * 1000
    assert parsed.attachments[1].content is None
    assert parsed.body_text == "See attached.\n"


def test_attachment_names_lose_paths_and_get_a_default():
    msg = _message()
    msg.set_content("files")
    for name in ("../../etc/passwd", "..\\..\\boot.ini", "..", "ré sumé.pdf", None):
        msg.add_attachment(b"data", maintype="application", subtype="pdf", filename=name)
    msg.add_attachment(b"GIF89a", maintype="image", subtype="gif")

    names = [a.file_name for a in message_parse(msg.as_bytes()).attachments]

    assert names == [
        "passwd",
        "boot.ini",
        "attachment-3.pdf",
        "ré sumé.pdf",
        "attachment-5.pdf",
        "attachment-6.gif",
    ]


def test_inline_images_count_when_named_and_forwarded_mail_is_an_eml():
    msg = _message()
    msg.set_content("plain")
    msg.add_alternative('<p>logo <img src="cid:logo"> photo <img src="cid:photo"></p>', "html")
    html = msg.get_payload()[1]
    html.add_related(b"\x89PNG logo", "image", "png", cid="<logo>")
    html.add_related(
        b"\xff\xd8 photo",
        "image",
        "jpeg",
        cid="<photo>",
        filename="photo.jpg",
        disposition="inline",
    )
    forwarded = _message(Subject="The original")
    forwarded.set_content("original text")
    msg.add_attachment(forwarded)

    parsed = message_parse(msg.as_bytes())

    assert [(a.file_name, a.content_type) for a in parsed.attachments] == [
        ("photo.jpg", "image/jpeg"),
        ("attachment-2.eml", "message/rfc822"),
    ]
    eml = BytesParser(policy=policy.default).parsebytes(parsed.attachments[1].content or b"")
    assert eml["Subject"] == "The original"
    assert parsed.body_text == "plain\n"


@pytest.mark.parametrize("path", sorted(CORPUS.glob("msg_*.txt")), ids=lambda p: p.name)
def test_corpus_message_parses_and_names_what_is_broken(path):
    parsed = message_parse(path.read_bytes())

    _storable(parsed)
    if path.name in BROKEN:
        assert parsed.defects


def test_corpus_messages_keep_what_can_be_read():
    by_name = {p.name: message_parse(p.read_bytes()) for p in CORPUS.glob("msg_*.txt")}

    assert by_name["msg_07.txt"].attachments[0].file_name == "dingusfish.gif"
    assert by_name["msg_07.txt"].attachments[0].content_type == "image/gif"
    assert "This is the dingus fish." in by_name["msg_17.txt"].body_text
    assert by_name["msg_41.txt"].from_email == "xxx@example.com"
    assert by_name["msg_43.txt"].subject.startswith("Banned file")
    assert by_name["msg_16.txt"].date == datetime(2001, 9, 24, 3, 14, 35, tzinfo=UTC)


def test_mangled_corpus_never_raises():
    rnd = random.Random(20250304)
    corpus = [p.read_bytes() for p in sorted(CORPUS.glob("msg_*.txt"))]
    tokens = [b"\x00", b"=?", b"?=", b"<", b">", b"\r\n", b"\n ", b"\xff", b"--", b";", b'"']
    tokens += [b"\\", b"(", b":", b"@", b"=?x-unknown?q?", b"*=", b"'", b"%", b"\t"]
    for _ in range(400):
        raw = bytearray(rnd.choice(corpus))
        for _ in range(rnd.randint(1, 8)):
            at = rnd.randrange(len(raw) + 1)
            if rnd.random() < 0.5:
                raw[at:at] = rnd.choice(tokens)
            else:
                del raw[at : at + rnd.randint(1, 20)]
        _storable(message_parse(bytes(raw)))
