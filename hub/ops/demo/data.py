"""The demo's records: two believable tenants, and the calls and notifications every tenant gets.

Plain declarations only; ``hub.ops.demo.tenant`` writes them through the domain services.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.domain.authentication.models import Department, Industry, Role
from hub.domain.calls.models import CallDirection, CallStatus
from hub.domain.crm.models import LeadSource, LeadStatus, Priority
from hub.domain.customers.models import OrderStatus, PaymentStatus
from hub.domain.emails.models import Direction, ThreadCategory
from hub.domain.notifications.models import NotificationType

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "hub-demo-admin"  # noqa: S105 - a published demo password, by design
TEAM_PASSWORD = "hub-demo-team"  # noqa: S105
CUSTOMER_PASSWORD = "hub-demo-customer"  # noqa: S105
MAILBOX_PASSWORD = "demo-mailbox-password"  # noqa: S105 - stored encrypted, like a real one


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


# --- the company console login's own mailbox (the staff CEO of the first tenant) -------------


@dataclass(frozen=True)
class MailboxThreadSpec:
    subject: str
    category: str
    about: tuple[str, int]  # ("lead" | "deal" | "customer", index in the tenant's spec)
    hours_ago: float  # of the last message; earlier ones a few hours apart
    messages: tuple[tuple[str, str], ...]  # (direction, body), oldest first
    unread: bool = False  # the inbound messages after our last one wait to be read
    attachment: tuple[str, str, str] | None = None  # (file name, type, content) on the last


# fmt: off
CEO_MAILBOX = (
    MailboxThreadSpec("Field tablets: contract terms", ThreadCategory.DEAL, ("deal", 8), 20, (
        (Direction.INBOUND, "Hi Nancy,\n\nOur legal team is fine with the draft. One open point: can the three years of support start at go-live rather than at delivery?"),
        (Direction.OUTBOUND, "Hi George,\n\nYes, support can start at go-live. Janet will send the updated contract by Friday."),
        (Direction.INBOUND, "Perfect, thank you. We plan to sign next week."),
    )),
    MailboxThreadSpec("Check-in kiosks for six airports", ThreadCategory.LEAD, ("lead", 7), 3, (
        (Direction.INBOUND, "Hello,\n\nWe are replacing the check-in kiosks at six regional airports this year. Do you supply kiosks with card and passport readers? A rough price per unit would help us plan."),
        (Direction.INBOUND, "One more detail: the kiosks have to fit our existing counters, which are 60 cm deep."),
    ), unread=True),
    MailboxThreadSpec("Store list for the spring openings", ThreadCategory.CUSTOMER, ("customer", 0), 1, (
        (Direction.OUTBOUND, "Hi Maria,\n\nCould you send us the list of your new stores with their opening dates? Then we can plan the deliveries."),
        (Direction.INBOUND, "Hi Nancy,\n\nAttached is the list of our new stores with their opening dates and how many terminals each needs. Could your team confirm the delivery dates?"),
    ), unread=True, attachment=(
        "spring-openings.csv", "text/csv",
        "store,city,opening,terminals\nAlfreds Mitte,Berlin,March 3,4\nAlfreds Hafen,Hamburg,March 24,3\nAlfreds Altstadt,Munich,April 14,5\n",
    )),
    MailboxThreadSpec("Kiosk rollout: who leads it?", ThreadCategory.DEAL, ("deal", 10), 28, (
        (Direction.INBOUND, "Hi Nancy,\n\nThanks again for the quick turnaround on the order. Who will be our contact for the kiosk rollout?"),
        (Direction.OUTBOUND, "Hi Victor,\n\nRobert King leads the rollout. He will call you on Monday to plan the kick-off with your branch managers."),
    )),
)

# A template a reply can use as it is: only the variables the hub fills itself.
REPLY_TEMPLATE = (
    "Thanks for your enquiry",
    "Re: your enquiry",
    "Hi {{customer_name}},\n\nThank you for getting in touch. I have passed your message to our "
    "sales team; they will reply within one working day.\n\nBest regards,\n{{user_name}}\n{{company_name}}",
)
# fmt: on
