"""Tenant checks the services share: rows and people of one company only (ValidationError)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from hub.domain.authentication.models import Company, CompanyUser, Customer, CustomerCompany, User


def company_member_check(*, company: Company, user: User | None, field: str) -> None:
    """Refuse a user who is not a member of the company: no tenant's rows point at outsiders."""
    if user is not None and not CompanyUser.objects.filter(company=company, user=user).exists():
        raise ValidationError({field: f"{user.email} is not a member of {company}."})


def company_rows_check(*, company: Company, **rows) -> None:
    """Refuse rows (``lead=...``, ``deal=...``) that belong to another company."""
    for field, row in rows.items():
        if row is not None and row.company_id != company.id:
            raise ValidationError({field: f"The {field} belongs to another company."})


def company_customer_check(*, company: Company, customer: Customer | None) -> None:
    if (
        customer is not None
        and not CustomerCompany.objects.filter(customer=customer, company=company).exists()
    ):
        raise ValidationError({"customer": "The customer is not a customer of this company."})
