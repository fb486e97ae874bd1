"""Helpers of the mail parser: a faster ``policy.default``, charsets, raw 8-bit headers,
HTML → text, file names."""

from __future__ import annotations

import codecs
import email.header
import functools
import mimetypes
import re
from email import headerregistry, policy
from html.parser import HTMLParser
from typing import Any

FILE_NAME_MAX = 255

_SPACE = re.compile(r"\s+")
_ESCAPED = re.compile(r"[\udc80-\udcff]+")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

# MIME headers repeat within a message, addresses across a mailbox (the owner, the regulars).
_MEMOISED = frozenset(("content-type", "content-disposition", "content-transfer-encoding"))
_MEMOISED |= {"from", "sender", "to", "cc", "bcc"}


class _Registry(headerregistry.HeaderRegistry):
    """``policy.default``'s header parsing, memoised for the headers that repeat.

    The parser and ``get_content_type`` re-parse Content-Type on every call (a dozen times per
    message), which makes ``policy.default`` several times slower than ``compat32``; header
    objects are immutable, so one parse of a value can serve them all."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        # The base class builds a new class on every call; one per header kind is enough.
        kind = self.registry.get(name.lower(), self.default_class)
        if kind not in self._classes:
            self._classes[kind] = super().__getitem__(name)
        return self._classes[kind]

    def __call__(self, name: str, value: str) -> Any:
        if len(value) < 512 and name.lower() in _MEMOISED:
            return _memoised(self, name, value)
        return super().__call__(name, value)


@functools.lru_cache(maxsize=2048)
def _memoised(registry: _Registry, name: str, value: str) -> Any:
    return headerregistry.HeaderRegistry.__call__(registry, name, value)


HEADER_FACTORY = _Registry()
POLICY = policy.default.clone(header_factory=HEADER_FACTORY)


# Labels mail uses that Python does not know, or whose superset reads more real mail.
_CHARSET_ALIASES = {
    "unknown-8bit": "cp1252",
    "x-unknown": "cp1252",
    "x-user-defined": "cp1252",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "ks_c_5601-1987": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-874": "cp874",
    "macintosh": "mac_roman",
    "x-mac-roman": "mac_roman",
    "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8",
}
_ASCII_CODECS = frozenset({"ascii"})


def text_clean(value: str) -> str:
    """Undo surrogate escapes (raw 8-bit bytes: UTF-8, else windows-1252) and drop NULs."""
    if _SURROGATE.search(value):
        value = _ESCAPED.sub(_unescape, value)
        value = _SURROGATE.sub("\ufffd", value)
    return value.replace("\x00", "")


def _unescape(match: re.Match[str]) -> str:
    data = match.group().encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def clip(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters, at a word when one ends near the cut, marked "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ", limit - 40)
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + "…"


def decode(data: bytes, charset: str | None, defects: list[str]) -> str:
    """Bytes in a declared charset → text. An unknown charset, or bytes that are not what
    was declared, fall back to UTF-8, then windows-1252; nothing undecodable survives."""
    label = (charset or "ascii").strip().strip("\"'").lower()
    codec = _codec(label)
    if codec is None:
        defects.append(f"unknown charset {label[:40]!r}")
    try:
        return data.decode(codec or "ascii")
    except UnicodeDecodeError:
        pass
    if codec is None or codec in _ASCII_CODECS:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", "replace")
    defects.append(f"bytes not in the declared charset {label[:40]!r}")
    return data.decode(codec, "replace")


@functools.lru_cache(maxsize=128)
def _codec(label: str) -> str | None:
    try:
        return codecs.lookup(_CHARSET_ALIASES.get(label, label)).name
    except (LookupError, ValueError):
        return None


def file_name_safe(name: str | None, *, content_type: str, index: int) -> str:
    """The attachment's own name without any path, or ``attachment-<n>.<ext>``."""
    name = text_clean(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        if content_type == "message/rfc822":
            extension = ".eml"
        else:
            extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
        return f"attachment-{index}{extension}"
    if len(name) > FILE_NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        if not dot or len(extension) > 16:
            return name[:FILE_NAME_MAX]
        return stem[: FILE_NAME_MAX - len(extension) - 1] + "." + extension
    return name


# HTML → text -----------------------------------------------------------------------------

_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_HIDDEN = frozenset({"script", "style", "template", "title"})
_BLANK_LINES = re.compile(r"\n{3,}")


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(_SPACE.sub(" ", data))


def html_to_text(html: str) -> str:
    """A plain-text rendering of HTML: tags dropped, entities unescaped, whitespace collapsed."""
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this is a last resort
        return _SPACE.sub(" ", re.sub(r"<[^>]*>", " ", html)).strip()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def words_decode(value: str, defects: list[str]) -> str:
    """A header's text with its RFC 2047 encoded words decoded, charsets read as for bodies.

    Raises ``HeaderParseError`` on an encoded word that cannot be decoded at all."""
    if "=?" not in value:
        return text_clean(value)
    chunks: list[tuple[bytes | str, str | None]] = email.header.decode_header(value)
    text = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            text.append(chunk)
        elif charset is None:  # the text between encoded words
            text.append(chunk.decode("raw-unicode-escape"))
        else:
            text.append(decode(chunk, charset.partition("*")[0], defects))
    return text_clean("".join(text))
