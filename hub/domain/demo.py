"""Demo data: two believable tenants, seeded through the domain services like real use would.

``demo_seed`` is idempotent: when the demo companies exist it creates nothing and reports
what is there; ``reset=True`` deletes the demo companies and the demo users first. Everything
happens in one transaction. The passwords are fixed and printed, so this is for the local
development database only (the command refuses to run with ``DEBUG`` off unless told to).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from hub.domain.authentication.models import (
    Company,
    CompanyUser,
    Customer,
    CustomerCompany,
    Department,
    Industry,
    Role,
    User,
)
from hub.domain.authentication.services import (
    company_create,
    company_user_add,
    customer_company_link,
    customer_company_verify,
    customer_create,
    user_create,
)
from hub.domain.calls.models import (
    Call,
    CallDirection,
    CallStatus,
    Disposition,
    PhoneNumber,
    VoicemailMessage,
)
from hub.domain.calls.services import (
    call_create,
    call_note_add,
    call_set_disposition,
    call_update_status,
    phone_number_add,
    voicemail_create,
)
from hub.domain.crm.models import (
    Deal,
    DealStage,
    DealStatus,
    Lead,
    LeadSource,
    LeadStatus,
    Pipeline,
    Priority,
)
from hub.domain.crm.services import (
    deal_create,
    deal_mark_lost,
    deal_mark_won,
    deal_move,
    lead_assign,
    lead_convert,
    lead_create,
    lead_set_status,
)
from hub.domain.customers.models import Order, OrderStatus, PaymentStatus
from hub.domain.customers.services import order_create, order_item_add
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailStatus,
    EmailTemplate,
    EmailThread,
    Provider,
    TemplateCategory,
    ThreadCategory,
)
from hub.domain.emails.services import email_account_create, email_store, email_thread_create
from hub.domain.notifications.models import Notification, NotificationType
from hub.domain.notifications.services import notification_create, notification_mark_read

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "hub-demo-admin"  # noqa: S105 - a published demo password, by design
TEAM_PASSWORD = "hub-demo-team"  # noqa: S105
CUSTOMER_PASSWORD = "hub-demo-customer"  # noqa: S105
MAILBOX_PASSWORD = "demo-mailbox-password"  # noqa: S105 - stored encrypted, like a real one


class Writer(Protocol):
    def write(self, text: str, /) -> object: ...


class DemoError(Exception):
    """The demo cannot be seeded as asked; the message says what to do."""


# --- what the tenants look like -------------------------------------------------------------


@dataclass(frozen=True)
class MemberSpec:
    first: str
    last: str
    role: str
    department: str
    phone: str  # the member's Twilio number


@dataclass(frozen=True)
class LeadSpec:
    first: str
    last: str
    company_name: str
    job_title: str
    source: str
    status: str  # LeadStatus, or "convert"
    value: int
    phone: str


@dataclass(frozen=True)
class DealSpec:
    title: str
    contact: str
    company_name: str
    value: int
    stage: str  # a stage name of the default pipeline, "won" or "lost"
    priority: str = Priority.MEDIUM
    close_in_days: int = 30
    lost_reason: str = ""


@dataclass(frozen=True)
class OrderSpec:
    title: str
    status: str
    payment_status: str
    items: tuple[tuple[str, str, int, str], ...]  # product, SKU, quantity, unit price


@dataclass(frozen=True)
class CustomerSpec:
    first: str
    last: str
    email: str
    phone: str
    address: str
    city: str
    country: str
    verified: bool
    orders: tuple[OrderSpec, ...] = ()


@dataclass(frozen=True)
class ThreadSpec:
    subject: str
    category: str
    about: tuple[str, int]  # ("lead" | "deal" | "customer", index in the tenant's spec)
    messages: tuple[tuple[str, str], ...]  # (direction, body), oldest first


@dataclass(frozen=True)
class TenantSpec:
    name: str
    industry: str
    domain: str
    city: str
    country: str
    tz: str
    phone: str
    address: str
    deal_area: str  # area code of the deal contacts' (fictional 555-01xx) numbers
    description: str
    employees: int
    order_prefix: str
    members: tuple[MemberSpec, ...]
    leads: tuple[LeadSpec, ...]
    deals: tuple[DealSpec, ...]
    customers: tuple[CustomerSpec, ...]
    threads: tuple[ThreadSpec, ...]

    def member_email(self, member: MemberSpec) -> str:
        return f"{member.first}.{member.last}@{self.domain}".lower().replace("'", "")


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _contact_email(person: str, company_name: str) -> str:
    first, *rest = person.split()
    last = rest[-1] if rest else "contact"
    return f"{_slug(first)}.{_slug(last)}@{_slug(company_name)[:24]}.example.com"


# fmt: off
NORTHWIND = TenantSpec(
    name="Northwind Traders",
    industry=Industry.TECHNOLOGY,
    domain="northwind.example.com",
    city="San Francisco",
    country="United States",
    tz="America/Los_Angeles",
    phone="+14155550100",
    address="350 Mission Street",
    deal_area="646",
    description="Point-of-sale hardware, store networking and the software that runs them.",
    employees=85,
    order_prefix="NWT",
    members=(
        MemberSpec("Nancy", "Davolio", Role.CEO, Department.MANAGEMENT, "+14155550101"),
        MemberSpec("Andrew", "Fuller", Role.MANAGER, Department.SALES, "+14155550102"),
        MemberSpec("Janet", "Leverling", Role.SALES_MANAGER, Department.SALES, "+14155550103"),
        MemberSpec("Robert", "King", Role.SALES_MANAGER, Department.SALES, "+14155550104"),
        MemberSpec("Laura", "Callahan", Role.SUPPORT_STAFF, Department.SUPPORT, "+14155550105"),
    ),
    leads=(
        LeadSpec("Elena", "Petrova", "Contoso Retail", "VP Operations", LeadSource.WEBSITE, LeadStatus.NEW, 42000, "+12125550131"),
        LeadSpec("Tom", "Becker", "Fabrikam Logistics", "IT Director", LeadSource.REFERRAL, LeadStatus.CONTACTED, 68000, "+13125550132"),
        LeadSpec("Aisha", "Khan", "Tailspin Toys", "Head of Stores", LeadSource.SOCIAL_MEDIA, LeadStatus.QUALIFIED, 25000, "+15035550133"),
        LeadSpec("Liam", "O'Connor", "Wide World Importers", "CFO", LeadSource.EVENT, "convert", 120000, "+12065550134"),
        LeadSpec("Yuki", "Tanaka", "Adventure Works Cycles", "Store Manager", LeadSource.COLD_CALL, LeadStatus.NEW, 18000, "+17025550135"),
        LeadSpec("Carlos", "Ruiz", "Litware Inc.", "Office Manager", LeadSource.WEBSITE, LeadStatus.UNQUALIFIED, 4000, "+15125550136"),
        LeadSpec("Hannah", "Weber", "Proseware", "COO", LeadSource.REFERRAL, LeadStatus.CONTACTED, 56000, "+16175550137"),
        LeadSpec("Noah", "Williams", "Blue Yonder Airlines", "Procurement Lead", LeadSource.EVENT, LeadStatus.NEW, 95000, "+13055550138"),
        LeadSpec("Fatima", "Zahra", "Woodgrove Bank", "Branch Network Lead", LeadSource.WEBSITE, LeadStatus.QUALIFIED, 150000, "+17135550139"),
        LeadSpec("Oliver", "Smith", "Lucerne Publishing", "Founder", LeadSource.COLD_CALL, LeadStatus.UNQUALIFIED, 6000, "+14045550140"),
    ),
    deals=(
        DealSpec("Contoso Retail — 40 POS terminals", "Mark Hanson", "Contoso Retail", 38000, "Prospecting", Priority.LOW, 75),
        DealSpec("Alpine Ski House — store Wi-Fi refresh", "Ingrid Olsen", "Alpine Ski House", 21500, "Prospecting", close_in_days=60),
        DealSpec("Fourth Coffee — kiosk pilot", "Sam Patel", "Fourth Coffee", 12800, "Qualification"),
        DealSpec("Northern Lights Grocers — checkout upgrade", "Erin Walsh", "Northern Lights Grocers", 64000, "Qualification", Priority.HIGH, 45),
        DealSpec("Margie's Travel — booking desk hardware", "Margie Brown", "Margie's Travel", 9400, "Proposal"),
        DealSpec("Trey Research — lab inventory scanners", "Dana Lee", "Trey Research", 27300, "Proposal", Priority.HIGH, 21),
        DealSpec("Coho Winery — tasting-room POS", "Luis Moreno", "Coho Winery", 15600, "Proposal", close_in_days=28),
        DealSpec("Graphic Design Institute — campus network", "Priya Shah", "Graphic Design Institute", 83000, "Negotiation", Priority.HIGH, 14),
        DealSpec("City Power & Light — field tablets", "George Hall", "City Power & Light", 112000, "Negotiation", Priority.HIGH, 10),
        DealSpec("School of Fine Art — payment terminals", "Rita Gomez", "School of Fine Art", 8900, "won", close_in_days=-6),
        DealSpec("Humongous Insurance — branch kiosks", "Victor Chen", "Humongous Insurance", 146000, "won", Priority.HIGH, -2),
        DealSpec("Relecloud — support contract", "Nina Brooks", "Relecloud", 31000, "lost", close_in_days=-12, lost_reason="Chose a cheaper vendor bundled with their ISP."),
    ),
    customers=(
        CustomerSpec(
            "Maria", "Anders", "maria.anders@alfreds.example.org", "+14155550151",
            "Obere Str. 57", "Berlin", "Germany", True,
            (
                OrderSpec("Store opening bundle", OrderStatus.DELIVERED, PaymentStatus.PAID, (
                    ("NW-POS-200 terminal", "NW-POS-200", 4, "1249.00"),
                    ("Receipt printer", "NW-PRN-12", 4, "189.00"),
                )),
                OrderSpec("Spare card readers", OrderStatus.SHIPPED, PaymentStatus.PAID, (
                    ("Contactless card reader", "NW-CRD-7", 6, "129.00"),
                )),
            ),
        ),
        CustomerSpec(
            "Thomas", "Hardy", "thomas.hardy@aroundthehorn.example.org", "+14155550152",
            "120 Hanover Sq.", "London", "United Kingdom", True,
            (
                OrderSpec("Back-office network kit", OrderStatus.PROCESSING, PaymentStatus.PENDING, (
                    ("24-port PoE switch", "NW-SW-24P", 2, "699.00"),
                    ("Wi-Fi 6 access point", "NW-AP-6", 5, "219.00"),
                )),
            ),
        ),
        CustomerSpec(
            "Ana", "Trujillo", "ana.trujillo@emparedados.example.net", "+14155550153",
            "Avda. de la Constitución 2222", "México D.F.", "Mexico", False,
        ),
    ),
    threads=(
        ThreadSpec("Pricing for 40 POS terminals", ThreadCategory.DEAL, ("deal", 0), (
            (Direction.INBOUND, "Hi, could you send pricing for 40 terminals with printers? We open three stores in the spring."),
            (Direction.OUTBOUND, "Thanks Mark. Attached is our volume pricing; happy to walk through it on a call this week."),
            (Direction.INBOUND, "Thursday 10am works for us. Please include the extended warranty option."),
        )),
        ThreadSpec("Wide World Importers: rollout plan", ThreadCategory.LEAD, ("lead", 3), (
            (Direction.OUTBOUND, "Great meeting you at RetailTech. Here is the rollout plan we discussed for your 12 sites."),
            (Direction.INBOUND, "Looks good. Our board signs off on the budget next Tuesday."),
        )),
        ThreadSpec("Card reader keeps disconnecting", ThreadCategory.COMPLAINT, ("customer", 0), (
            (Direction.INBOUND, "One of the card readers at the Berlin store drops its connection every hour."),
            (Direction.OUTBOUND, "Sorry about that. Please update it to firmware 3.2.1; I have sent the steps. If it persists we swap it."),
        )),
    ),
)

GLOBEX = TenantSpec(
    name="Globex Health",
    industry=Industry.HEALTHCARE,
    domain="globexhealth.example.com",
    city="Boston",
    country="United States",
    tz="America/New_York",
    phone="+16175550110",
    address="200 Clarendon Street",
    deal_area="857",
    description="Scheduling, patient intake and telehealth software for clinics and hospitals.",
    employees=140,
    order_prefix="GXH",
    members=(
        MemberSpec("Priya", "Raman", Role.CEO, Department.MANAGEMENT, "+16175550111"),
        MemberSpec("Marcus", "Bennett", Role.MANAGER, Department.SALES, "+16175550112"),
        MemberSpec("Sofia", "Marquez", Role.SALES_MANAGER, Department.SALES, "+16175550113"),
        MemberSpec("Daniel", "Kim", Role.SALES_MANAGER, Department.SALES, "+16175550114"),
        MemberSpec("Grace", "O'Neill", Role.SUPPORT_STAFF, Department.SUPPORT, "+16175550115"),
    ),
    leads=(
        LeadSpec("Amelia", "Hart", "Riverside Family Clinic", "Practice Manager", LeadSource.WEBSITE, LeadStatus.NEW, 18000, "+16175550161"),
        LeadSpec("Benjamin", "Ortiz", "Harbor Dental Group", "Owner", LeadSource.REFERRAL, LeadStatus.CONTACTED, 24000, "+16175550162"),
        LeadSpec("Chloe", "Nguyen", "Summit Orthopedics", "Operations Director", LeadSource.EVENT, LeadStatus.QUALIFIED, 76000, "+16035550163"),
        LeadSpec("David", "Okafor", "Lakeside Pediatrics", "Medical Director", LeadSource.SOCIAL_MEDIA, LeadStatus.NEW, 15000, "+12075550164"),
        LeadSpec("Emma", "Schulz", "Bayview Physical Therapy", "Clinic Lead", LeadSource.COLD_CALL, LeadStatus.UNQUALIFIED, 5000, "+14015550165"),
        LeadSpec("Farid", "Haddad", "Mercy Valley Hospital", "CIO", LeadSource.EVENT, "convert", 210000, "+18605550166"),
        LeadSpec("Gabriela", "Costa", "Northshore Dermatology", "Administrator", LeadSource.WEBSITE, LeadStatus.CONTACTED, 21000, "+19785550167"),
        LeadSpec("Henry", "Walsh", "Greenfield Urgent Care", "COO", LeadSource.REFERRAL, LeadStatus.QUALIFIED, 48000, "+14135550168"),
        LeadSpec("Isabel", "Rossi", "Cedar Eye Associates", "Office Manager", LeadSource.WEBSITE, LeadStatus.NEW, 12000, "+15085550169"),
    ),
    deals=(
        DealSpec("Riverside Clinic — online scheduling", "Amelia Hart", "Riverside Family Clinic", 14400, "Prospecting", Priority.LOW, 60),
        DealSpec("Harbor Dental — patient intake forms", "Paul Reyes", "Harbor Dental Group", 22000, "Prospecting", close_in_days=50),
        DealSpec("St. Anne's Hospice — telehealth pilot", "Joan Murphy", "St. Anne's Hospice", 36000, "Qualification", close_in_days=40),
        DealSpec("Summit Orthopedics — 4-site scheduling", "Chloe Nguyen", "Summit Orthopedics", 76000, "Qualification", Priority.HIGH, 35),
        DealSpec("Brookline Women's Health — intake kiosks", "Laura Chen", "Brookline Women's Health", 31500, "Proposal", close_in_days=25),
        DealSpec("Granite State Labs — results portal", "Owen Price", "Granite State Labs", 58000, "Proposal", Priority.HIGH, 20),
        DealSpec("Cape Cod Cardiology — telehealth suite", "Maya Fischer", "Cape Cod Cardiology", 94000, "Negotiation", Priority.HIGH, 12),
        DealSpec("Westside Pharmacy — refill reminders", "Tariq Aziz", "Westside Pharmacy", 8700, "won", close_in_days=-9),
        DealSpec("Beacon Hill Pediatrics — full platform", "Ruth Adler", "Beacon Hill Pediatrics", 67000, "won", Priority.HIGH, -3),
        DealSpec("Charles River Imaging — scheduling", "Kevin Doyle", "Charles River Imaging", 43000, "lost", close_in_days=-15, lost_reason="Budget frozen until next fiscal year."),
    ),
    customers=(
        CustomerSpec(
            "Helen", "Carter", "helen.carter@beaconhillpeds.example.org", "+16175550181",
            "12 Charles St.", "Boston", "United States", True,
            (
                OrderSpec("Platform onboarding", OrderStatus.DELIVERED, PaymentStatus.PAID, (
                    ("Globex Scheduling (annual seat)", "GX-SCH-1Y", 25, "240.00"),
                    ("Onboarding workshop", "GX-ONB", 1, "1500.00"),
                )),
            ),
        ),
        CustomerSpec(
            "Omar", "Siddiqui", "omar.siddiqui@westsiderx.example.org", "+16175550182",
            "880 Boylston St.", "Boston", "United States", True,
            (
                OrderSpec("Refill reminder add-on", OrderStatus.PENDING, PaymentStatus.PENDING, (
                    ("SMS reminder bundle (10k)", "GX-SMS-10K", 2, "390.00"),
                )),
            ),
        ),
        CustomerSpec(
            "Lucy", "Park", "lucy.park@harbordental.example.net", "+16175550183",
            "45 Atlantic Ave.", "Boston", "United States", False,
        ),
    ),
    threads=(
        ThreadSpec("Telehealth suite: security questionnaire", ThreadCategory.DEAL, ("deal", 6), (
            (Direction.INBOUND, "Our compliance team needs the attached security questionnaire completed before we sign."),
            (Direction.OUTBOUND, "Of course. You will have it back by Friday, together with our latest SOC 2 report."),
        )),
        ThreadSpec("Mercy Valley: demo follow-up", ThreadCategory.LEAD, ("lead", 5), (
            (Direction.OUTBOUND, "Thank you for the time today. As promised, here are the integration notes for your EHR."),
            (Direction.INBOUND, "Very helpful. Can we schedule a session with our nursing leads next week?"),
            (Direction.OUTBOUND, "Absolutely — Tuesday or Wednesday afternoon both work on our side."),
        )),
        ThreadSpec("Reminder texts sent twice", ThreadCategory.COMPLAINT, ("customer", 1), (
            (Direction.INBOUND, "Some patients received their refill reminder twice this morning."),
            (Direction.OUTBOUND, "Thanks for flagging it. We found a duplicate schedule and removed it; no more doubles."),
        )),
    ),
)

# fmt: on
TENANTS = (NORTHWIND, GLOBEX)
DEMO_COMPANY_NAMES = tuple(t.name for t in TENANTS)


# --- calls and notifications follow one pattern in every tenant ------------------------------


@dataclass(frozen=True)
class CallScenario:
    member: int  # index into the tenant's members
    direction: str
    about: tuple[str, int]
    status: str
    hours_ago: float
    duration: int = 0
    note: str = ""
    voicemail: str = ""


# fmt: off
CALLS = (
    CallScenario(2, CallDirection.OUTBOUND, ("lead", 1), CallStatus.COMPLETED, 26, 312, "Discovery call; sending a proposal outline."),
    CallScenario(3, CallDirection.OUTBOUND, ("deal", 7), CallStatus.COMPLETED, 5, 845, "Walked through pricing; legal review next."),
    CallScenario(4, CallDirection.INBOUND, ("customer", 0), CallStatus.COMPLETED, 3, 190, "Firmware question, solved on the call."),
    CallScenario(2, CallDirection.OUTBOUND, ("lead", 4), CallStatus.NO_ANSWER, 2),
    CallScenario(1, CallDirection.OUTBOUND, ("deal", 5), CallStatus.BUSY, 50),
    CallScenario(4, CallDirection.INBOUND, ("customer", 1), CallStatus.NO_ANSWER, 1.5,
                 voicemail="Hi, it's about our last order. Could someone call me back this afternoon? Thanks."),
    CallScenario(3, CallDirection.OUTBOUND, ("lead", 6), CallStatus.FAILED, 30),
    CallScenario(0, CallDirection.OUTBOUND, ("deal", 8), CallStatus.CANCELLED, 0.5),
    CallScenario(0, CallDirection.INBOUND, ("customer", 0), CallStatus.COMPLETED, 72, 420, "Quarterly check-in; happy with the rollout."),
)
# fmt: on


# fmt: off
NOTIFICATIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    Role.CEO: (
        ("Deal won", "{won} closed at ${won_value:,.0f}.", NotificationType.SUCCESS),
        ("Weekly pipeline report", "This week's pipeline report is ready.", NotificationType.INFO),
    ),
    Role.MANAGER: (
        ("Deal in negotiation", "{negotiating} moved to Negotiation.", NotificationType.INFO),
        ("Quota at risk", "The team is at 62% of this month's target.", NotificationType.WARNING),
    ),
    Role.SALES_MANAGER: (
        ("New lead assigned", "A new lead from the website was assigned to you.", NotificationType.INFO),
        ("Missed call", "You missed a call; the caller did not leave a message.", NotificationType.WARNING),
    ),
    Role.SUPPORT_STAFF: (
        ("New voicemail", "A customer left a voicemail about their last order.", NotificationType.WARNING),
        ("Mailbox sync failed", "The support mailbox could not be reached; retrying.", NotificationType.ERROR),
    ),
}
# fmt: on


def _notifications(spec: TenantSpec, role: str, deals: list[Deal]) -> list[tuple[str, str, str]]:
    """Return (title, message, type) for one member: a welcome, then two by role."""
    won = next(d for d in deals if d.status == DealStatus.WON)
    negotiating = next(d for d in deals if d.stage.name == "Negotiation")
    facts = {"won": won.title, "won_value": won.value, "negotiating": negotiating.title}
    welcome = (
        f"Welcome to {spec.name}",
        "Your team, pipeline and phone number are ready in the hub.",
        NotificationType.INFO,
    )
    return [welcome] + [(t, m.format(**facts), k) for t, m, k in NOTIFICATIONS[role]]


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
            f"staff, CEO of {NORTHWIND.name}: sees that company only",
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
        return DemoResult(
            created=False, companies=existing, counts=demo_counts(existing), logins=demo_logins()
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
        companies.append(_seed_tenant(spec, now=now, staff_ceo=index == 0))
    return DemoResult(
        created=True,
        companies=companies,
        counts=demo_counts(companies),
        logins=demo_logins(),
        notes=notes,
    )


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
    say(f"Deleted {n_companies} demo companies and {n_users} demo users")


def _sid(prefix: str) -> str:
    # Twilio SIDs are two letters and 32 hex digits; uuid4 makes collisions a non-issue.
    return prefix + uuid.uuid4().hex


def _seed_tenant(spec: TenantSpec, *, now: datetime, staff_ceo: bool) -> Company:
    users = [
        user_create(
            email=spec.member_email(m),
            password=TEAM_PASSWORD,
            first_name=m.first,
            last_name=m.last,
            phone=m.phone,
            is_verified=True,
            is_staff=staff_ceo and m.role == Role.CEO,
        )
        for m in spec.members
    ]
    ceo = users[0]
    company = company_create(
        company_name=spec.name,
        created_by=ceo,
        industry=spec.industry,
        website=f"https://www.{spec.domain}",
        description=spec.description,
        phone=spec.phone,
        employee_count=spec.employees,
        address=spec.address,
        city=spec.city,
        country=spec.country,
        timezone=spec.tz,
    )
    for member, user in zip(spec.members[1:], users[1:], strict=True):
        company_user_add(
            company=company,
            user=user,
            role=member.role,
            department=member.department,
            invited_by=ceo,
        )
    numbers = [
        phone_number_add(
            company=company,
            user=user,
            phone_number=m.phone,
            twilio_phone_sid=_sid("PN"),
            number_type="VoIP",
            is_default=True,
            monthly_cost=Decimal("1.15"),
            capabilities={"voice": True, "sms": True, "mms": False},
        )
        for m, user in zip(spec.members, users, strict=True)
    ]
    sellers = [u for m, u in zip(spec.members, users, strict=True) if m.role == Role.SALES_MANAGER]
    leads = _seed_leads(spec, company, users, sellers)
    deals = _seed_deals(spec, company, users, sellers, today=now.date())
    customers = _seed_customers(spec, company, users)
    _seed_calls(spec, company, users, numbers, leads, deals, customers, now=now)
    _seed_email(spec, company, users, leads, deals, customers, now=now)
    for member, user in zip(spec.members, users, strict=True):
        for position, (title, message, kind) in enumerate(_notifications(spec, member.role, deals)):
            notification = notification_create(user=user, title=title, message=message, type=kind)
            if position == 0:
                notification_mark_read(user=user, notification_id=notification.id)
    return company


def _seed_leads(
    spec: TenantSpec, company: Company, users: list[User], sellers: list[User]
) -> list[Lead]:
    manager = users[1]
    leads = []
    for index, ls in enumerate(spec.leads):
        lead = lead_create(
            company=company,
            created_by=manager,
            first_name=ls.first,
            last_name=ls.last,
            email=_contact_email(f"{ls.first} {ls.last}", ls.company_name),
            lead_source=ls.source,
            phone=ls.phone,
            company_name=ls.company_name,
            job_title=ls.job_title,
            estimated_value=Decimal(ls.value),
        )
        if ls.status != LeadStatus.NEW or index % 2 == 0:  # a few new leads wait for an owner
            lead = lead_assign(lead=lead, assignee=sellers[index % len(sellers)], by=manager)
        if ls.status == "convert":
            lead = lead_set_status(lead=lead, status=LeadStatus.QUALIFIED, by=manager)
            deal = lead_convert(
                lead=lead, by=lead.assigned_to or manager, title=f"{ls.company_name} — rollout"
            )
            lead.refresh_from_db()
            deal_move(deal=deal, stage=deal.pipeline.stages.get(name="Qualification"), by=manager)
        elif ls.status != LeadStatus.NEW:
            lead = lead_set_status(lead=lead, status=ls.status, by=manager)
        leads.append(lead)
    return leads


def _seed_deals(
    spec: TenantSpec, company: Company, users: list[User], sellers: list[User], *, today: date
) -> list[Deal]:
    pipeline = Pipeline.objects.get(company=company, is_default=True)
    stages: dict[str, DealStage] = {s.name: s for s in pipeline.stages.all()}
    deals = []
    for index, ds in enumerate(spec.deals):
        seller = sellers[index % len(sellers)]
        deal = deal_create(
            company=company,
            created_by=seller,
            title=ds.title,
            value=Decimal(ds.value),
            contact_name=ds.contact,
            contact_email=_contact_email(ds.contact, ds.company_name),
            contact_phone=f"+1{spec.deal_area}55501{20 + index:02d}",
            company_name=ds.company_name,
            pipeline=pipeline,
            assigned_to=seller,
            priority=ds.priority,
            expected_close_date=today + timedelta(days=ds.close_in_days),
            description=f"{ds.company_name}: {ds.title.split(' — ')[-1]}.",
        )
        # Walk the deal through the stages before it, as the team would have.
        target = "Negotiation" if ds.stage in ("won", "lost") else ds.stage
        for stage in pipeline.stages.filter(
            order__gt=deal.stage.order, order__lte=stages[target].order
        ):
            deal = deal_move(deal=deal, stage=stage, by=seller)
        closed_on = today + timedelta(days=ds.close_in_days)
        if ds.stage == "won":
            deal = deal_mark_won(deal=deal, by=seller, close_date=closed_on)
        elif ds.stage == "lost":
            deal = deal_mark_lost(deal=deal, reason=ds.lost_reason, by=seller, close_date=closed_on)
        deals.append(deal)
    return deals


def _seed_customers(spec: TenantSpec, company: Company, users: list[User]) -> list[Customer]:
    support, seller = users[-1], users[2]
    customers = []
    order_number = 10001
    for cs in spec.customers:
        customer = customer_create(
            email=cs.email,
            password=CUSTOMER_PASSWORD,
            first_name=cs.first,
            last_name=cs.last,
            address=cs.address,
            city=cs.city,
            country=cs.country,
        )
        link = customer_company_link(customer=customer, company=company, added_by=support)
        if cs.verified:
            customer_company_verify(link=link)
        address = f"{cs.first} {cs.last}\n{cs.address}\n{cs.city}, {cs.country}"
        for os_ in cs.orders:
            order = order_create(
                company=company,
                customer=customer,
                order_number=f"{spec.order_prefix}-{order_number}",
                title=os_.title,
                shipping_address=address,
                billing_address=address,
                created_by=seller,
                status=os_.status,
                payment_status=os_.payment_status,
                payment_method="invoice",
            )
            order_number += 1
            for product, sku, quantity, price in os_.items:
                order_item_add(
                    order=order,
                    product_name=product,
                    product_sku=sku,
                    quantity=quantity,
                    unit_price=Decimal(price),
                    tax=(Decimal(price) * quantity * Decimal("0.08")).quantize(Decimal("0.01")),
                )
        customers.append(customer)
    return customers


def _counterpart(spec: TenantSpec, about: tuple[str, int], leads, deals, customers) -> dict:
    kind, index = about
    if kind == "lead":
        return {"lead": leads[index], "phone": leads[index].phone}
    if kind == "deal":
        deal = deals[index]
        return {"deal": deal, "phone": deal.contact_phone}
    return {"customer": customers[index], "phone": spec.customers[index].phone}


def _seed_calls(spec, company, users, numbers, leads, deals, customers, *, now: datetime) -> None:
    for scenario in CALLS:
        user, number = users[scenario.member], numbers[scenario.member]
        other = _counterpart(spec, scenario.about, leads, deals, customers)
        outbound = scenario.direction == CallDirection.OUTBOUND
        call = call_create(
            company=company,
            direction=scenario.direction,
            from_number=number.phone_number if outbound else other["phone"],
            to_number=other["phone"] if outbound else number.phone_number,
            twilio_call_sid=_sid("CA"),
            user=user,
            phone_number=number,
            lead=other.get("lead"),
            deal=other.get("deal"),
            customer=other.get("customer"),
        )
        started = now - timedelta(hours=scenario.hours_ago)
        if scenario.status == CallStatus.FAILED:
            call_update_status(call=call, status=CallStatus.FAILED, duration=0, end_time=started)
            continue
        call_update_status(call=call, status=CallStatus.RINGING)
        if scenario.status == CallStatus.COMPLETED:
            call_update_status(call=call, status=CallStatus.IN_PROGRESS, start_time=started)
            call_update_status(
                call=call,
                status=CallStatus.COMPLETED,
                duration=scenario.duration,
                end_time=started + timedelta(seconds=scenario.duration),
            )
            call_set_disposition(call=call, disposition=Disposition.CONNECTED)
            call_note_add(call=call, user=user, note=scenario.note)
            continue
        call_update_status(
            call=call, status=scenario.status, duration=0, end_time=started + timedelta(seconds=25)
        )
        if scenario.voicemail:
            call_set_disposition(call=call, disposition=Disposition.VOICEMAIL)
            voicemail_create(
                company=company,
                phone_number=number,
                from_number=other["phone"],
                duration=14,
                recording_url=f"https://recordings.example.com/{_sid('RE')}.mp3",
                transcription=scenario.voicemail,
            )
        elif scenario.status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
            call_set_disposition(call=call, disposition=scenario.status)


def _seed_email(spec, company, users, leads, deals, customers, *, now: datetime) -> None:
    seller, support = users[2], users[-1]
    accounts = {
        "sales": email_account_create(
            company=company,
            user=seller,
            email=seller.email,
            provider=Provider.IMAP,
            username=seller.email,
            password=MAILBOX_PASSWORD,
            is_default=True,
            imap_host=f"imap.{spec.domain}",
            imap_port=993,
            smtp_host=f"smtp.{spec.domain}",
            smtp_port=587,
            # The hosts do not exist: keep the workers from trying to sync them.
            sync_enabled=False,
        ),
        "support": email_account_create(
            company=company,
            user=support,
            email=f"support@{spec.domain}",
            provider=Provider.IMAP,
            username=f"support@{spec.domain}",
            password=MAILBOX_PASSWORD,
            is_default=True,
            imap_host=f"imap.{spec.domain}",
            imap_port=993,
            smtp_host=f"smtp.{spec.domain}",
            smtp_port=587,
            sync_enabled=False,
        ),
    }
    for t_index, ts in enumerate(spec.threads):
        kind, index = ts.about
        account = accounts["support" if kind == "customer" else "sales"]
        owner = support if kind == "customer" else seller
        if kind == "lead":
            about = {"lead": leads[index]}
            their_name, their_email = (
                f"{leads[index].first_name} {leads[index].last_name}",
                leads[index].email,
            )
        elif kind == "deal":
            about = {"deal": deals[index]}
            their_name, their_email = deals[index].contact_name, deals[index].contact_email
        else:
            about = {"customer": customers[index]}
            their_name, their_email = (
                customers[index].user.get_full_name(),
                customers[index].user.email,
            )
        times = [
            now - timedelta(hours=6 * (len(ts.messages) - i) + t_index)
            for i in range(len(ts.messages))
        ]
        # The first thread of each tenant waits for an answer: its last (inbound) message is unread.
        unread_last = t_index == 0 and ts.messages[-1][0] == Direction.INBOUND
        thread = email_thread_create(
            account=account,
            subject=ts.subject,
            participants=[account.email, their_email],
            last_message_at=times[-1],
            category=ts.category,
            is_read=not unread_last,
            **about,
        )
        previous = None
        for m_index, ((direction, body), sent_at) in enumerate(
            zip(ts.messages, times, strict=True)
        ):
            inbound = direction == Direction.INBOUND
            last = m_index == len(ts.messages) - 1
            message_id = f"<demo.{_slug(ts.subject)[:40]}.{m_index}@{spec.domain if not inbound else their_email.split('@')[1]}>"
            previous = email_store(
                account=account,
                thread=thread,
                message_id=message_id,
                from_email=their_email if inbound else account.email,
                from_name=their_name if inbound else owner.get_full_name(),
                to_emails=[account.email] if inbound else [their_email],
                subject=ts.subject if m_index == 0 else f"Re: {ts.subject}",
                body_text=f"{body}\n\n— {their_name if inbound else owner.get_full_name()}",
                direction=direction,
                status=EmailStatus.DELIVERED if inbound else EmailStatus.SENT,
                is_read=not (unread_last and last),
                sent_at=sent_at,
                delivered_at=sent_at,
                folder="INBOX" if inbound else "Sent",
                created_by=None if inbound else owner,
                reply_to=previous,
                in_reply_to=previous.message_id if previous else None,
                references=previous.message_id if previous else None,
            )
    # No template service exists yet; a template is plain data, validated like a service would.
    template = EmailTemplate(
        company=company,
        name="Proposal follow-up",
        category=TemplateCategory.DEAL,
        created_by=seller,
        subject="{{deal_title}}: next steps",
        body_text=(
            "Hi {{customer_name}},\n\nThank you for your time. Attached is the proposal for {{deal_title}}.\n"
            "Could we review it together on {{meeting_date}}?\n\nBest regards,\n{{user_name}}\n{{company_name}}"
        ),
        body_html=(
            "<p>Hi {{customer_name}},</p><p>Thank you for your time. Attached is the proposal for "
            "<strong>{{deal_title}}</strong>.</p><p>Could we review it together on {{meeting_date}}?</p>"
            "<p>Best regards,<br>{{user_name}}<br>{{company_name}}</p>"
        ),
    )
    template.full_clean()
    template.save()
