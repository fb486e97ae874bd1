"""Demo data: two believable tenants, seeded through the domain services like real use would.

``demo_seed`` is idempotent: when the demo companies exist it creates nothing and reports
what is there; ``reset=True`` deletes the demo companies and the demo users first. Everything
happens in one transaction. The passwords are fixed and printed, so this is for the local
development database only (the command refuses to run with ``DEBUG`` off unless told to).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from hub.domain.authentication.models import Company, CompanyUser, CustomerCompany, User
from hub.domain.authentication.services import user_create
from hub.domain.calls.models import Call, PhoneNumber, VoicemailMessage
from hub.domain.crm.models import Deal, Lead
from hub.domain.customers.models import Order
from hub.domain.emails.models import Email, EmailAccount, EmailTemplate, EmailThread
from hub.domain.notifications.models import Notification
from hub.ops.demo.data import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DEMO_COMPANY_NAMES,
    NORTHWIND,
    TEAM_PASSWORD,
    TENANTS,
)
from hub.ops.demo.mailbox import ceo_mailbox_missing, ceo_mailbox_seed, demo_attachment_names
from hub.ops.demo.tenant import tenant_seed


class Writer(Protocol):
    def write(self, text: str, /) -> object: ...


class DemoError(Exception):
    """The demo cannot be seeded as asked; the message says what to do."""


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLogin:
    label: str
    email: str
    password: str | None  # None when it no longer is the demo password
    note: str


@dataclass
class DemoResult:
    created: bool
    companies: list[Company]
    counts: dict[str, int]
    logins: list[DemoLogin]
    notes: list[str] = field(default_factory=list)


def demo_user_emails() -> list[str]:
    """Every address the demo creates (the admin's too)."""
    emails = [ADMIN_EMAIL]
    for spec in TENANTS:
        emails += [spec.member_email(m) for m in spec.members]
        emails += [c.email for c in spec.customers]
    return emails


def demo_companies() -> list[Company]:
    return list(Company.objects.filter(company_name__in=DEMO_COMPANY_NAMES).order_by("id"))


def demo_counts(companies: Iterable[Company]) -> dict[str, int]:
    ids = [c.id for c in companies]
    member_ids = CompanyUser.objects.filter(company_id__in=ids).values("user_id")
    return {
        "companies": len(ids),
        "team members": CompanyUser.objects.filter(company_id__in=ids).count(),
        "customers": CustomerCompany.objects.filter(company_id__in=ids).count(),
        "orders": Order.objects.filter(company_id__in=ids).count(),
        "leads": Lead.objects.filter(company_id__in=ids).count(),
        "deals": Deal.objects.filter(company_id__in=ids).count(),
        "phone numbers": PhoneNumber.objects.filter(company_id__in=ids).count(),
        "calls": Call.objects.filter(company_id__in=ids).count(),
        "voicemails": VoicemailMessage.objects.filter(company_id__in=ids).count(),
        "email accounts": EmailAccount.objects.filter(company_id__in=ids).count(),
        "email threads": EmailThread.objects.filter(company_id__in=ids).count(),
        "emails": Email.objects.filter(email_account__company_id__in=ids).count(),
        "email templates": EmailTemplate.objects.filter(company_id__in=ids).count(),
        "notifications": Notification.objects.filter(user_id__in=member_ids).count(),
    }


def demo_logins() -> list[DemoLogin]:
    logins = []
    ceo_email = NORTHWIND.member_email(NORTHWIND.members[0])
    for label, email, password, note in (
        ("Admin console", ADMIN_EMAIL, ADMIN_PASSWORD, "superuser: every company"),
        (
            "Company console",
            ceo_email,
            TEAM_PASSWORD,
            f"staff, CEO of {NORTHWIND.name}: sees that company only; "
            "its own demo mailbox at /console/inbox/",
        ),
    ):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            continue
        logins.append(
            DemoLogin(label, email, password if user.check_password(password) else None, note)
        )
    return logins


# --- seeding ---------------------------------------------------------------------------------


@transaction.atomic
def demo_seed(*, stdout: Writer | None = None, reset: bool = False) -> DemoResult:
    """Create the demo tenants and logins, or report the ones already there."""

    def say(line: str) -> None:
        if stdout is not None:
            stdout.write(line + "\n")

    if reset:
        _demo_delete(say)
    existing = demo_companies()
    if existing:
        if sorted(c.company_name for c in existing) != sorted(DEMO_COMPANY_NAMES):
            names = ", ".join(c.company_name for c in existing)
            raise DemoError(f"Only part of the demo is present ({names}); run seed_demo --reset.")
        notes = _ceo_mailbox_top_up(existing)
        return DemoResult(
            created=False,
            companies=existing,
            counts=demo_counts(existing),
            logins=demo_logins(),
            notes=notes,
        )
    _check_fresh()

    notes = []
    admin = User.objects.filter(email__iexact=ADMIN_EMAIL).first()
    if admin is None:
        user_create(
            email=ADMIN_EMAIL,
            password=ADMIN_PASSWORD,
            first_name="Hub",
            last_name="Admin",
            is_staff=True,
            is_superuser=True,
            is_verified=True,
        )
        say(f"Created the superuser {ADMIN_EMAIL}")
    else:
        notes.append(f"{ADMIN_EMAIL} already existed and was left as it was.")
    now = timezone.now()
    companies = []
    for index, spec in enumerate(TENANTS):
        say(f"Seeding {spec.name} ({spec.industry})")
        companies.append(tenant_seed(spec, now=now, staff_ceo=index == 0))
    return DemoResult(
        created=True,
        companies=companies,
        counts=demo_counts(companies),
        logins=demo_logins(),
        notes=notes,
    )


def _ceo_mailbox_top_up(companies: list[Company]) -> list[str]:
    """A demo seeded before the console login had a mailbox gets it, once."""
    company = next((c for c in companies if c.company_name == NORTHWIND.name), None)
    ceo = User.objects.filter(email__iexact=NORTHWIND.member_email(NORTHWIND.members[0])).first()
    if company is None or ceo is None or not ceo.is_staff:
        return []
    if not ceo_mailbox_missing(company=company, ceo=ceo):
        return []
    if not settings.EMAIL_ENCRYPTION_KEYS:
        return [f"{ceo.email} has no demo mailbox: set EMAIL_ENCRYPTION_KEY and run again."]
    threads = ceo_mailbox_seed(spec=NORTHWIND, company=company, ceo=ceo, now=timezone.now())
    return [f"Added {ceo.email}'s demo mailbox ({threads} threads) for the console's inbox."]


def _check_fresh() -> None:
    taken = sorted(
        User.objects.filter(email__in=demo_user_emails()[1:]).values_list("email", flat=True)
    )
    if taken:
        raise DemoError(
            f"Demo users exist without their companies ({taken[0]}, …); run seed_demo --reset."
        )
    if not settings.EMAIL_ENCRYPTION_KEYS:
        raise DemoError(
            "EMAIL_ENCRYPTION_KEY is not set: the demo mailbox passwords cannot be stored encrypted."
        )


def _demo_delete(say) -> None:
    companies = Company.objects.filter(company_name__in=DEMO_COMPANY_NAMES)
    users = User.objects.filter(email__in=demo_user_emails())
    files = demo_attachment_names(companies)
    try:
        n_companies = len(companies)
        # Companies first: their deals and pipelines hold RESTRICT references to the users.
        companies.delete()
        n_users = users.count()
        users.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise DemoError(
            f"Cannot delete the demo data: other rows still refer to it ({exc.args[0]})"
        ) from None
    # The attachments' files go once their rows are gone for good.
    transaction.on_commit(lambda: _files_delete(files))
    say(f"Deleted {n_companies} demo companies and {n_users} demo users")


def _files_delete(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)
