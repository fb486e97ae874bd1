"""Writes on users, companies, memberships, customers and invitations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from hub.domain.authentication.models import (
    AccountType,
    Company,
    CompanyUser,
    Customer,
    CustomerCompany,
    Role,
    User,
    UserInvitation,
)
from hub.domain.crm.services import pipeline_create_default

# SCHEMA.md: ceo and manager get every permission; sales_manager deals, reports and customers;
# support_staff customers only.
ROLE_DEFAULT_PERMISSIONS: dict[str, dict[str, bool]] = {
    Role.CEO: dict.fromkeys(
        ("can_invite_users", "can_manage_deals", "can_view_reports", "can_manage_customers"), True
    ),
    Role.MANAGER: dict.fromkeys(
        ("can_invite_users", "can_manage_deals", "can_view_reports", "can_manage_customers"), True
    ),
    Role.SALES_MANAGER: {
        "can_invite_users": False,
        "can_manage_deals": True,
        "can_view_reports": True,
        "can_manage_customers": True,
    },
    Role.SUPPORT_STAFF: {
        "can_invite_users": False,
        "can_manage_deals": False,
        "can_view_reports": False,
        "can_manage_customers": True,
    },
}


@transaction.atomic
def user_create(
    *,
    email: str,
    password: str | None,
    account_type: str = AccountType.COMPANY,
    first_name: str = "",
    last_name: str = "",
    **fields,
) -> User:
    """Create a user who logs in by e-mail; the username is derived from the address.

    The rules live in ``UserManager.create_user``, which Django's own commands
    (createsuperuser) call too.
    """
    return User.objects.create_user(
        email=email,
        password=password,
        account_type=account_type,
        first_name=first_name,
        last_name=last_name,
        **fields,
    )


@transaction.atomic
def company_create(*, company_name: str, created_by: User, **fields) -> Company:
    """Create a company, make its creator the CEO member, and give it the default pipeline."""
    company = Company(company_name=company_name, created_by=created_by, **fields)
    company.full_clean()
    company.save()
    company_user_add(company=company, user=created_by, role=Role.CEO)
    pipeline_create_default(company=company)
    return company


@transaction.atomic
def company_user_add(
    *,
    company: Company,
    user: User,
    role: str,
    department: str | None = None,
    invited_by: User | None = None,
) -> CompanyUser:
    """Add a team member with the default permissions of the role."""
    if role not in ROLE_DEFAULT_PERMISSIONS:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if CompanyUser.objects.filter(company=company, user=user).exists():
        raise ValidationError({"user": f"{user.email} is already a member of {company}."})
    membership = CompanyUser(
        company=company,
        user=user,
        role=role,
        department=department,
        invited_by=invited_by,
        **ROLE_DEFAULT_PERMISSIONS[role],
    )
    membership.full_clean()
    membership.save()
    return membership


def company_user_set_role(*, membership: CompanyUser, role: str) -> CompanyUser:
    if role not in ROLE_DEFAULT_PERMISSIONS:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    membership.role = role
    for name, value in ROLE_DEFAULT_PERMISSIONS[role].items():
        setattr(membership, name, value)
    membership.save()
    return membership


@transaction.atomic
def customer_create(
    *, email: str, password: str | None, first_name: str = "", last_name: str = "", **fields
) -> Customer:
    user = user_create(
        email=email,
        password=password,
        account_type=AccountType.CUSTOMER,
        first_name=first_name,
        last_name=last_name,
    )
    return Customer.objects.create(user=user, **fields)


def customer_company_link(
    *, customer: Customer, company: Company, added_by: User | None = None, verified: bool = False
) -> CustomerCompany:
    link = CustomerCompany(customer=customer, company=company, added_by=added_by)
    link.save()
    if verified:
        customer_company_verify(link=link)
    return link


def customer_company_verify(*, link: CustomerCompany) -> CustomerCompany:
    """Mark the relationship verified; ``customer_since`` is set the first time."""
    now = timezone.now()
    link.verified = True
    link.verified_at = link.verified_at or now
    link.customer_since = link.customer_since or now
    link.save(update_fields=["verified", "verified_at", "customer_since"])
    return link


def invitation_create(
    *, company: Company, email: str, role: str, invited_by: User
) -> UserInvitation:
    """Invite someone to a company; the token is a UUID and the invitation lasts 7 days."""
    if role not in ROLE_DEFAULT_PERMISSIONS:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    email = email.strip().lower()
    validate_email(email)
    invitation = UserInvitation(
        company=company,
        email=email,
        role=role,
        invited_by=invited_by,
        expires_at=timezone.now() + timedelta(days=settings.HUB_INVITATION_DAYS),
    )
    invitation.save()
    return invitation
