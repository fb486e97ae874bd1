"""What the hub's management commands share: reading their arguments."""

from __future__ import annotations

from django.core.management.base import CommandError

from hub.domain.authentication.models import Company


def company_arg(value: str) -> Company:
    """The company a ``--company`` argument names: its id, or its exact name (any case)."""
    if value.isdigit():
        company = Company.objects.filter(pk=int(value)).first()
    else:
        matches = list(Company.objects.filter(company_name__iexact=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"several companies are named {value!r}; give its id")
        company = matches[0] if matches else None
    if company is None:
        raise CommandError(f"no company with id or name {value!r}")
    return company
