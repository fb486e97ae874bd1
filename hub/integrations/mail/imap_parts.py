"""What stands for a message too large to fetch whole: read from its BODYSTRUCTURE, the
section of its first text part, the list of its other parts, and a small well-formed message
made of its header and that text part (both fetched cut, by the IMAP client)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from urllib.parse import unquote

HEADER_MAX_BYTES = 256 * 1024
TEXT_PART_MAX_BYTES = 64 * 1024
OVERSIZE_FETCH_BYTES = HEADER_MAX_BYTES + TEXT_PART_MAX_BYTES


def _leaves(body, section: str = "") -> Iterator[tuple[str, tuple]]:
    """The single parts of a BODYSTRUCTURE with their section numbers ("1", "1.2" …); a
    message/rfc822 part counts as one."""
    if body and isinstance(body[0], list):
        for i, part in enumerate(body[0], 1):
            yield from _leaves(part, f"{section}.{i}" if section else str(i))
    elif body:
        yield section or "1", body


def _text(value) -> str:
    return value.decode("ascii", "replace").lower() if isinstance(value, bytes) else ""


def _params(part: tuple) -> dict[str, bytes]:
    flat = part[2] if len(part) > 2 and isinstance(part[2], tuple) else ()
    return {_text(k): v for k, v in zip(flat[::2], flat[1::2], strict=False)}


def _disposition(part: tuple) -> tuple[str, dict[str, bytes]]:
    """Where RFC 3501 puts it: after the lines of a text part, the envelope, body and lines
    of a message/rfc822, the MD5 of any part."""
    kind = (_text(part[0]), _text(part[1]))
    at = 9 if kind[0] == "text" else 11 if kind == ("message", "rfc822") else 8
    value = part[at] if len(part) > at else None
    if not isinstance(value, tuple) or not value:
        return "", {}
    flat = value[1] if len(value) > 1 and isinstance(value[1], tuple) else ()
    return _text(value[0]), {_text(k): v for k, v in zip(flat[::2], flat[1::2], strict=False)}


def text_part(body) -> tuple[str, tuple] | None:
    """The first text/plain part that is not an attachment, else the first text/html one."""
    candidates = [
        (section, part)
        for section, part in _leaves(body)
        if _text(part[0]) == "text" and _disposition(part)[0] != "attachment"
    ]
    for subtype in ("plain", "html"):
        for section, part in candidates:
            if _text(part[1]) == subtype:
                return section, part
    return None


def _filename(params: dict[str, bytes], name: str) -> str:
    """A parameter's value: plain, RFC 2047 encoded words, or RFC 2231 (``name*``, and its
    continuations ``name*0*``, ``name*1`` …)."""
    if params.get(name):
        text = params[name].decode("utf-8", "replace")
        try:
            return str(make_header(decode_header(text)))[:255]
        except (LookupError, ValueError):  # an unknown charset or a broken encoded word
            return text[:255]
    pieces = sorted(
        (int(match.group(1) or 0), bool(match.group(2)), value.decode("ascii", "replace"))
        for key, value in params.items()
        if (match := re.fullmatch(re.escape(name) + r"\*(?:(\d+)(\*)?)?", key))
        and isinstance(value, bytes)
    )
    if not pieces:
        return ""
    first = pieces[0][2]
    charset, _, rest = first.partition("'") if "'" in first else ("", "", "'" + first)
    encoded = rest.partition("'")[2] + "".join(v for _i, _e, v in pieces[1:])
    try:
        return unquote(encoded, encoding=charset or "utf-8", errors="replace")[:255]
    except LookupError:  # an unknown charset
        return unquote(encoded, errors="replace")[:255]


def attachments_listed(body, text_section: str | None) -> list[tuple[str, str, int]]:
    listed = []
    for section, part in _leaves(body):
        if section == text_section:
            continue
        kind = f"{_text(part[0])}/{_text(part[1])}"
        disposition, dparams = _disposition(part)
        name = _filename(dparams, "filename") or _filename(_params(part), "name")
        if kind.startswith("text/") and not name and disposition != "attachment":
            continue  # another rendering of the text (the HTML beside the plain text)
        size = part[6] if len(part) > 6 and isinstance(part[6], int) else 0
        if _text(part[5]) == "base64":
            size = size * 57 // 78  # 57 bytes per 76-character line and its CRLF
        listed.append((name, kind, size))
    return listed


_MIME_HEADER = re.compile(rb"^(content-type|content-transfer-encoding|mime-version)\s*:", re.I)
_TOKEN = re.compile(rb"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")


def stand_in(header: bytes, text: tuple | None, body: bytes) -> bytes:
    """A small well-formed message: the real header without its MIME lines, then the text
    part (cut) with its own Content-Type and transfer encoding, or an empty text body."""
    if len(header) >= HEADER_MAX_BYTES:  # cut by the partial fetch: drop the broken last line
        header = header[: header.rfind(b"\n") + 1]
    kept: list[bytes] = []
    dropping = False
    for line in header.rstrip(b"\r\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):  # a folded continuation belongs to the line above
            if not dropping:
                kept.append(line)
            continue
        dropping = bool(_MIME_HEADER.match(line))
        if not dropping:
            kept.append(line)
    subtype, charset, encoding = b"plain", b"utf-8", b"7bit"
    if text is not None:
        subtype = text[1] if isinstance(text[1], bytes) else subtype
        charset = _params(text).get("charset") or charset
        encoding = text[5] if isinstance(text[5], bytes) else encoding
    if not all(_TOKEN.match(v) for v in (subtype, charset, encoding)):
        subtype, charset, encoding, body = b"plain", b"utf-8", b"7bit", b""
    mime = (
        b"MIME-Version: 1.0\r\nContent-Type: text/"
        + subtype.lower()
        + b'; charset="'
        + charset
        + b'"\r\nContent-Transfer-Encoding: '
        + encoding.lower()
        + b"\r\n"
    )
    lines = [line.rstrip(b"\r") for line in kept]
    return b"\r\n".join(lines) + b"\r\n" + mime + b"\r\n" + body
