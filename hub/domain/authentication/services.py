"""Writes on users, companies, memberships, customers and invitations."""

from __future__ import annotations

import re
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
    InvitationStatus,
    Role,
    User,
    UserInvitation,
)

MIN_PASSWORD_LENGTH = 8

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


def _username_from_email(email: str) -> str:
    base = re.sub(r"[^\w.@+-]", "", email.split("@", 1)[0])[:140] or "user"
    candidate, suffix = base, 1
    while User.objects.filter(username=candidate).exists():
        suffix += 1
        candidate = f"{base}{suffix}"
    return candidate


def password_validate(*, password: str | None) -> None:
    if password is None or len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            {"password": f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."}
        )


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
    """Create a user who logs in by e-mail; the username is derived from the address."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": "Enter a valid e-mail address."}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this e-mail address already exists."})
    password_validate(password=password)
    user = User(
        email=email,
        username=fields.pop("username", None) or _username_from_email(email),
        account_type=account_type,
        first_name=first_name,
        last_name=last_name,
        **fields,
    )
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def user_set_password(*, user: User, password: str) -> User:
    password_validate(password=password)
    user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    return user


@transaction.atomic
def company_create(*, company_name: str, created_by: User, **fields) -> Company:
    """Create a company, make its creator the CEO member, and give it the default pipeline."""
    from hub.domain.crm.services import pipeline_create_default

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


class InvitationError(Exception):
    pass


def invitation_accept(*, token: str, user: User) -> CompanyUser:
    """Join the invitation's company with its role; an overdue invitation becomes expired."""
    # Marked before the acceptance's transaction: the refusal that follows must not undo it.
    UserInvitation.objects.filter(
        invitation_token=token, status=InvitationStatus.PENDING, expires_at__lte=timezone.now()
    ).update(status=InvitationStatus.EXPIRED)
    return _invitation_accept(token=token, user=user)


@transaction.atomic
def _invitation_accept(*, token: str, user: User) -> CompanyUser:
    invitation = UserInvitation.objects.select_for_update().filter(invitation_token=token).first()
    if invitation is None:
        raise InvitationError("This invitation does not exist.")
    if invitation.status != InvitationStatus.PENDING:
        raise InvitationError(f"This invitation is {invitation.status}.")
    if invitation.expires_at <= timezone.now():
        raise InvitationError("This invitation has expired.")
    if user.email.lower() != invitation.email.lower():
        raise InvitationError("This invitation was sent to another e-mail address.")
    membership = company_user_add(
        company=invitation.company,
        user=user,
        role=invitation.role,
        invited_by=invitation.invited_by,
    )
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["status", "accepted_at"])
    return membership


def invitations_expire(*, now=None) -> int:
    """Mark every pending invitation past its expiry as expired; return how many."""
    now = now or timezone.now()
    return UserInvitation.objects.filter(
        status=InvitationStatus.PENDING, expires_at__lte=now
    ).update(status=InvitationStatus.EXPIRED)
