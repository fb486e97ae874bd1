"""Re-encrypting stored credentials with the newest ``EMAIL_ENCRYPTION_KEY`` (key rotation).

After a new key is put first in ``EMAIL_ENCRYPTION_KEY`` (the old ones kept after it), every
stored Fernet token is rewritten under the new key; then the old keys can be dropped. Each row
is rewritten in its own short transaction under its row lock, so the work runs beside a live
hub. A row that no key decrypts is reported and left as it is; the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

from hub.domain.emails.crypto import credential_rotate
from hub.domain.emails.models import EmailAccount

DEFAULT_BATCH_SIZE = 500
EMAIL_ACCOUNT_COLUMNS = ("password", "oauth_token")


@dataclass(frozen=True)
class CredentialFailure:
    """A row whose credential no configured key decrypts (left untouched)."""

    table: str
    row_id: int
    columns: tuple[str, ...]


@dataclass
class ReencryptResult:
    """What one table's rotation did (or, in a dry run, would do).

    ``rotated`` counts every row re-encrypted, including those already under the newest key:
    Fernet tokens carry no key id, so each token is decrypted and written again.
    ``current`` says how many of them the newest key alone already decrypted.
    """

    table: str
    dry_run: bool = False
    rows: int = 0
    rotated: int = 0
    current: int = 0
    failures: list[CredentialFailure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)


Progress = Callable[[ReencryptResult], None]


def credentials_reencrypt_all(
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReencryptResult:
    """Re-encrypt every mailbox password and OAuth token (``emails_emailaccount``)."""
    return credentials_reencrypt(
        model=EmailAccount,
        columns=EMAIL_ACCOUNT_COLUMNS,
        batch_size=batch_size,
        dry_run=dry_run,
        progress=progress,
    )


def credentials_reencrypt(
    *,
    model: type[models.Model],
    columns: Sequence[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ReencryptResult:
    """Re-encrypt the Fernet tokens in ``columns`` of every row of ``model``, row by row.

    ``progress`` is called after each batch of ``batch_size`` rows. Integrations call this for
    their own tables (the Slack bot tokens).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1.")
    if not settings.EMAIL_ENCRYPTION_KEYS:
        raise ImproperlyConfigured(
            "EMAIL_ENCRYPTION_KEY is not set: there is no key to re-encrypt the credentials with."
        )
    newest = Fernet(settings.EMAIL_ENCRYPTION_KEYS[0])
    result = ReencryptResult(table=model._meta.db_table, dry_run=dry_run)
    for ids in _id_batches(model, columns, batch_size):
        for row_id in ids:
            _row_reencrypt(model, row_id, columns, newest, result)
        if progress is not None:
            progress(result)
    return result


def _id_batches(
    model: type[models.Model], columns: Sequence[str], batch_size: int
) -> Iterator[list[int]]:
    """The ids of the rows holding a credential, ascending, ``batch_size`` at a time."""
    holding = models.Q()
    for column in columns:
        holding |= ~models.Q(**{column: ""}) & models.Q(**{f"{column}__isnull": False})
    rows = model._default_manager.filter(holding).order_by("pk")
    last = None
    while True:
        page = rows if last is None else rows.filter(pk__gt=last)
        ids = list(page.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def _row_reencrypt(
    model: type[models.Model],
    row_id: int,
    columns: Sequence[str],
    newest: Fernet,
    result: ReencryptResult,
) -> None:
    with transaction.atomic():
        rows = model._default_manager.filter(pk=row_id).only("pk", *columns)
        row = (rows if result.dry_run else rows.select_for_update()).first()
        if row is None:  # deleted since its id was read
            return
        tokens = {c: getattr(row, c) for c in columns if getattr(row, c)}
        if not tokens:
            return
        result.rows += 1
        rotated: dict[str, str] = {}
        failed: list[str] = []
        current = True
        for column, token in tokens.items():
            try:
                rotated[column] = credential_rotate(token)
            except InvalidToken:
                failed.append(column)
                continue
            current = current and _decrypts(newest, token)
        if failed:
            result.failures.append(CredentialFailure(result.table, row_id, tuple(failed)))
            return
        result.rotated += 1
        result.current += current
        if result.dry_run:
            return
        for column, token in rotated.items():
            setattr(row, column, token)
        row.save(update_fields=list(rotated))


def _decrypts(fernet: Fernet, token: str) -> bool:
    try:
        fernet.decrypt(token.encode())
    except InvalidToken:
        return False
    return True
