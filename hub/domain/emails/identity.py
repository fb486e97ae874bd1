"""Who a message is: its Message-ID as stored (SCHEMA.md D10), and its subject for threading."""

from __future__ import annotations

import hashlib
import re

MESSAGE_ID_MAX = 255  # emails_email.message_id
_DIGEST_HEX = 64
# "<" + prefix + "." + sha256 hex + ">" fills the column exactly.
_PREFIX_MAX = MESSAGE_ID_MAX - _DIGEST_HEX - 3

_REPLY_PREFIXES = re.compile(
    r"""^(?:\s*(?:
        (?:re|fwd?|aw|wg|sv|vs|antw)\s*(?:\[\d+\]|\(\d+\))?\s*:   # Re: Fwd: AW: Re[2]:
        |\[[^\[\]]*\]                                              # [list-tag]
    ))+""",
    re.IGNORECASE | re.VERBOSE,
)


def message_id_clean(value: str | None) -> str | None:
    """The id as stored: stripped, and shortened deterministically when over the column.

    A long id keeps its first characters and ends with the sha256 of the whole id, still
    inside ``<…>``, so the same long id always gives the same stored value."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) <= MESSAGE_ID_MAX:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    inner = value[1:-1] if value.startswith("<") and value.endswith(">") else value
    return f"<{inner[:_PREFIX_MAX]}.{digest}>"


def message_id_synthetic(*, account_id: int, raw: bytes) -> str:
    """The stable id of a message that has no Message-ID: a hash of the account and the bytes.

    SCHEMA.md D10 says to derive it from the folder, UIDVALIDITY and UID; that would give the
    same message one id in INBOX and another in Sent, and new ids after a UIDVALIDITY change,
    storing it twice. The content is what stays the same, so the id comes from the content
    (and the account, which is where the id must be unique)."""
    digest = hashlib.sha256(f"{account_id}:".encode() + raw).hexdigest()
    return f"<hub-{digest[:40]}@synthetic.invalid>"


def subject_normalize(subject: str) -> str:
    """The subject without reply/forward prefixes or list tags, spaces collapsed, casefolded."""
    return " ".join(_REPLY_PREFIXES.sub("", subject or "").split()).casefold()
