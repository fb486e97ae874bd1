"""Small helpers shared by the domain models."""

from __future__ import annotations

from django.db import models


def choices_check(table: str, field: str, choices: type[models.Choices], *, nullable: bool = False):
    """Return the CHECK constraint that keeps ``field`` within the documented enum values."""
    allowed = models.Q(**{f"{field}__in": choices.values})
    if nullable:
        allowed |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=allowed, name=f"{table}_{field}_valid")


def range_check(table: str, field: str, low: int, high: int) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=f"{table}_{field}_range",
    )
