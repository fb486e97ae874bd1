"""Retention of the Twilio inbox: applied callbacks go after their age; failures never do."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from hub.integrations.twilio.inbox import GAVE_UP, MAX_ATTEMPTS
from hub.integrations.twilio.models import TwilioCallback
from hub.integrations.twilio.retention import inbox_prune

pytestmark = pytest.mark.django_db

DAYS_30 = timedelta(days=30)
_n = count()


def _callback(
    *,
    age: timedelta,
    applied: timedelta | None,
    outcome: str = "completed",
    attempts: int = 1,
    last_error: str = "",
) -> TwilioCallback:
    """A stored callback that arrived ``age`` ago and was applied ``applied`` ago (or never)."""
    n = next(_n)
    now = timezone.now()
    return TwilioCallback.objects.create(
        kind="status",
        params={"n": n},
        verified_at=now - age,
        call_sid=f"CA{n:032x}",
        sequence_number=n,
        content_hash=f"{n:064x}",
        processed_at=None if applied is None else now - applied,
        outcome=outcome if applied is not None else "",
        attempts=attempts,
        last_error=last_error,
    )


def _prune(**kwargs):
    return inbox_prune(
        older_than=timezone.now() - DAYS_30,
        batch_size=kwargs.pop("batch_size", 1000),
        max_rows=kwargs.pop("max_rows", 100_000),
        **kwargs,
    )


def test_callbacks_applied_long_ago_go_and_recent_ones_stay():
    gone = [_callback(age=timedelta(days=40), applied=timedelta(days=40)) for _ in range(3)]
    kept = [
        _callback(age=timedelta(days=10), applied=timedelta(days=10)),
        # Arrived long ago but applied recently (queued again by hand): kept for its age since.
        _callback(age=timedelta(days=40), applied=timedelta(days=2)),
    ]

    pruned = _prune()

    assert (pruned.table, pruned.deleted) == ("hub_twilio_callback", 3)
    assert not TwilioCallback.objects.filter(pk__in=[c.pk for c in gone]).exists()
    assert set(TwilioCallback.objects.values_list("pk", flat=True)) == {c.pk for c in kept}


def test_callbacks_not_applied_or_given_up_are_never_deleted():
    waiting = _callback(age=timedelta(days=90), applied=None, attempts=0)
    failing = _callback(age=timedelta(days=90), applied=None, attempts=3, last_error="boom")
    given_up = _callback(
        age=timedelta(days=90),
        applied=timedelta(days=89),
        outcome=f"{GAVE_UP}{MAX_ATTEMPTS} attempts: call CA1 not known yet",
        attempts=MAX_ATTEMPTS,
        last_error="NotYet: call CA1 not known yet",
    )
    applied = _callback(age=timedelta(days=90), applied=timedelta(days=89))

    assert _prune().deleted == 1

    remaining = set(TwilioCallback.objects.values_list("pk", flat=True))
    assert remaining == {waiting.pk, failing.pk, given_up.pk}
    assert applied.pk not in remaining


def test_batches_respect_their_size_and_the_cap():
    rows = [_callback(age=timedelta(days=40), applied=timedelta(days=40)) for _ in range(35)]

    first = _prune(batch_size=10, max_rows=30)
    assert first.batches == [10, 10, 10] and first.capped
    # Oldest ids first.
    assert list(TwilioCallback.objects.values_list("pk", flat=True).order_by("pk")) == [
        r.pk for r in rows[30:]
    ]

    second = _prune(batch_size=10, max_rows=30)
    assert second.batches == [5] and not second.capped
    assert not TwilioCallback.objects.exists()


def test_a_dry_run_deletes_nothing():
    [_callback(age=timedelta(days=40), applied=timedelta(days=40)) for _ in range(4)]

    pruned = _prune(dry_run=True)

    assert (pruned.deleted, pruned.batches, pruned.dry_run) == (4, [], True)
    assert TwilioCallback.objects.count() == 4
