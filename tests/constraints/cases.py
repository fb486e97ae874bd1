"""The shared schema's constraints and ON DELETE rules, as tables of cases.

Each expectation comes from the CRM's schema document as settled by SCHEMA.md. Where the document
names a foreign key's rule, the case says ``doc``; where it does not, the case follows the
document's Data Validation section ("Foreign key CASCADE on delete (or SET NULL)": a required key
cascades, an optional one is set to NULL) and says ``rule``.

A case whose model disagrees with the document carries ``xfail``: the reason names the table, the
column, what the document expects and what the model does. The test then fails as expected, and
the suite turns red the day the model is fixed, so the mark is removed with the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import IntegrityError

CASCADE, SET_NULL, RESTRICT = "CASCADE", "SET NULL", "RESTRICT"


def _marks(xfail: str | None, raises: type[BaseException] | None = None) -> list:
    if not xfail:
        return []
    return [pytest.mark.xfail(strict=True, reason=xfail, raises=raises)]


# --- foreign keys ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForeignKey:
    table: str
    column: str
    target: str
    on_delete: str
    source: str  # "doc" (the document names the rule) or "rule" (Data Validation's general rule)
    xfail: str | None = None

    @property
    def id(self) -> str:
        return f"{self.table}.{self.column}->{self.target} {self.on_delete}"

    def param(self, *, with_xfail: bool = True):
        return pytest.param(
            self, id=self.id, marks=_marks(self.xfail if with_xfail else None, IntegrityError)
        )


def _fk(table, column, target, on_delete, source) -> ForeignKey:
    return ForeignKey(table, column, target, on_delete, source)


USER, COMPANY, CUSTOMER = "authentication_user", "authentication_company", "authentication_customer"

FOREIGN_KEYS = [
    _fk("authentication_company", "created_by_id", USER, CASCADE, "doc"),
    _fk("authentication_companyuser", "user_id", USER, CASCADE, "doc"),
    _fk("authentication_companyuser", "company_id", COMPANY, CASCADE, "doc"),
    _fk("authentication_companyuser", "invited_by_id", USER, SET_NULL, "doc"),
    _fk("authentication_customer", "user_id", USER, CASCADE, "doc"),
    _fk("authentication_customercompany", "customer_id", CUSTOMER, CASCADE, "doc"),
    _fk("authentication_customercompany", "company_id", COMPANY, CASCADE, "doc"),
    _fk("authentication_customercompany", "added_by_id", USER, SET_NULL, "doc"),
    _fk("authentication_customercompany", "account_manager_id", USER, SET_NULL, "rule"),
    _fk("authentication_userinvitation", "company_id", COMPANY, CASCADE, "doc"),
    _fk("authentication_userinvitation", "invited_by_id", USER, CASCADE, "doc"),
    _fk("crm_lead", "company_id", COMPANY, CASCADE, "rule"),
    _fk("crm_lead", "created_by_id", USER, CASCADE, "rule"),
    _fk("crm_lead", "assigned_to_id", USER, SET_NULL, "rule"),
    _fk("crm_lead", "converted_to_deal_id", "crm_deal", SET_NULL, "rule"),
    _fk("crm_pipeline", "company_id", COMPANY, CASCADE, "rule"),
    _fk("crm_pipeline", "created_by_id", USER, CASCADE, "rule"),
    _fk("crm_dealstage", "pipeline_id", "crm_pipeline", CASCADE, "rule"),
    _fk("crm_deal", "company_id", COMPANY, CASCADE, "rule"),
    _fk("crm_deal", "pipeline_id", "crm_pipeline", CASCADE, "rule"),
    _fk("crm_deal", "stage_id", "crm_dealstage", CASCADE, "rule"),
    _fk("crm_deal", "created_by_id", USER, CASCADE, "rule"),
    _fk("crm_deal", "assigned_to_id", USER, SET_NULL, "rule"),
    _fk("crm_deal", "lead_id", "crm_lead", SET_NULL, "rule"),
    _fk("crm_activity", "company_id", COMPANY, CASCADE, "rule"),
    _fk("crm_activity", "user_id", USER, CASCADE, "rule"),
    # Optional keys the rule lets cascade: an activity is about its lead or deal.
    _fk("crm_activity", "lead_id", "crm_lead", CASCADE, "rule"),
    _fk("crm_activity", "deal_id", "crm_deal", CASCADE, "rule"),
    _fk("customers_customertag", "company_id", COMPANY, CASCADE, "rule"),
    _fk("customers_customertag", "created_by_id", USER, SET_NULL, "rule"),
    _fk("customers_customerprofile", "customer_id", CUSTOMER, CASCADE, "rule"),
    _fk(
        "customers_customerprofile_tags",
        "customerprofile_id",
        "customers_customerprofile",
        CASCADE,
        "rule",
    ),
    _fk(
        "customers_customerprofile_tags", "customertag_id", "customers_customertag", CASCADE, "rule"
    ),
    _fk("customers_customersegment", "company_id", COMPANY, CASCADE, "rule"),
    _fk("customers_customersegment", "created_by_id", USER, SET_NULL, "rule"),
    _fk("customers_order", "company_id", COMPANY, CASCADE, "rule"),
    _fk("customers_order", "customer_id", CUSTOMER, CASCADE, "rule"),
    _fk("customers_order", "created_by_id", USER, SET_NULL, "rule"),
    _fk("customers_orderitem", "order_id", "customers_order", CASCADE, "rule"),
    _fk("customers_customerinteraction", "company_id", COMPANY, CASCADE, "rule"),
    _fk("customers_customerinteraction", "customer_id", CUSTOMER, CASCADE, "rule"),
    _fk("customers_customerinteraction", "user_id", USER, SET_NULL, "rule"),
    _fk("emails_emailaccount", "company_id", COMPANY, CASCADE, "rule"),
    _fk("emails_emailaccount", "user_id", USER, CASCADE, "doc"),
    _fk("emails_emailthread", "company_id", COMPANY, CASCADE, "rule"),
    _fk("emails_emailthread", "email_account_id", "emails_emailaccount", CASCADE, "doc"),
    _fk("emails_emailthread", "lead_id", "crm_lead", SET_NULL, "doc"),
    _fk("emails_emailthread", "deal_id", "crm_deal", SET_NULL, "doc"),
    _fk("emails_emailthread", "customer_id", CUSTOMER, SET_NULL, "doc"),  # D5
    _fk("emails_email", "thread_id", "emails_emailthread", SET_NULL, "doc"),
    _fk("emails_email", "email_account_id", "emails_emailaccount", CASCADE, "doc"),
    _fk("emails_email", "reply_to_id", "emails_email", SET_NULL, "rule"),
    _fk("emails_email", "created_by_id", USER, SET_NULL, "rule"),
    _fk("emails_emailattachment", "email_id", "emails_email", CASCADE, "rule"),
    _fk("emails_emailtemplate", "company_id", COMPANY, CASCADE, "doc"),
    _fk("emails_emailtemplate", "created_by_id", USER, CASCADE, "doc"),
    _fk("emails_emailrule", "company_id", COMPANY, CASCADE, "rule"),
    _fk("emails_emailrule", "template_id", "emails_emailtemplate", SET_NULL, "rule"),
    _fk("emails_emailrule", "created_by_id", USER, CASCADE, "rule"),
    _fk("emails_emailsynclog", "email_account_id", "emails_emailaccount", CASCADE, "rule"),
    _fk("emails_emailtracking", "email_id", "emails_email", CASCADE, "doc"),
    _fk("calls_phonenumber", "company_id", COMPANY, CASCADE, "doc"),
    _fk("calls_phonenumber", "user_id", USER, CASCADE, "doc"),
    _fk("calls_call", "company_id", COMPANY, CASCADE, "doc"),
    _fk("calls_call", "phone_number_id", "calls_phonenumber", SET_NULL, "doc"),
    _fk("calls_call", "user_id", USER, SET_NULL, "doc"),
    _fk("calls_call", "lead_id", "crm_lead", SET_NULL, "doc"),
    _fk("calls_call", "deal_id", "crm_deal", SET_NULL, "doc"),
    _fk("calls_call", "customer_id", CUSTOMER, SET_NULL, "doc"),
    _fk("calls_callrecording", "call_id", "calls_call", CASCADE, "doc"),
    _fk("calls_callnote", "call_id", "calls_call", CASCADE, "doc"),
    _fk("calls_callnote", "user_id", USER, CASCADE, "doc"),
    _fk("calls_voicemailmessage", "company_id", COMPANY, CASCADE, "doc"),
    _fk("calls_voicemailmessage", "phone_number_id", "calls_phonenumber", SET_NULL, "doc"),
    _fk("calls_voicemailmessage", "listened_by_id", USER, SET_NULL, "doc"),
    _fk("notifications_notification", "user_id", USER, CASCADE, "rule"),  # D2: integer FK
    _fk("issues_issue", "assigned_to_id", USER, SET_NULL, "rule"),
    _fk("issues_issue", "deal_id", "crm_deal", SET_NULL, "rule"),
    _fk("issues_issue", "contact_id", CUSTOMER, SET_NULL, "rule"),  # D5
    _fk("issues_issue", "company_id", COMPANY, CASCADE, "rule"),
    _fk("issues_issue", "created_by_id", USER, CASCADE, "rule"),
]


# --- unique constraints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Unique:
    table: str
    columns: tuple[str, ...]
    # Set on both rows besides the unique columns (a conditional constraint's condition).
    where: dict = field(default_factory=dict)
    name: str | None = None  # pinned when the constraint is conditional (a partial index)
    xfail: str | None = None

    @property
    def id(self) -> str:
        cols = ",".join(self.columns)
        cond = "".join(f" where {k}={v}" for k, v in self.where.items())
        return f"{self.table}({cols}) unique{cond}"

    def param(self):
        return pytest.param(self, id=self.id, marks=_marks(self.xfail))


UNIQUES = [
    Unique("authentication_user", ("username",)),
    Unique("authentication_user", ("email",)),
    Unique("authentication_companyuser", ("user_id", "company_id")),
    Unique("authentication_customer", ("user_id",)),
    Unique("authentication_userinvitation", ("invitation_token",)),
    Unique("crm_pipeline", ("company_id", "name")),
    Unique(
        "crm_pipeline",
        ("company_id",),
        where={"is_default": True},
        name="crm_pipeline_one_default_per_company",
    ),
    Unique("crm_dealstage", ("pipeline_id", "name")),
    Unique("crm_dealstage", ("pipeline_id", "order")),
    Unique("customers_customertag", ("company_id", "name")),
    Unique("customers_customerprofile", ("customer_id",)),
    Unique("customers_customerprofile_tags", ("customerprofile_id", "customertag_id")),
    Unique("customers_customersegment", ("company_id", "name")),
    Unique("customers_order", ("order_number",)),
    Unique("emails_emailaccount", ("company_id", "email")),
    Unique("emails_email", ("email_account_id", "message_id")),  # D10: per account, not global
    Unique("emails_emailtemplate", ("company_id", "name")),
    Unique("calls_phonenumber", ("twilio_phone_sid",)),
    Unique("calls_call", ("twilio_call_sid",)),
    Unique("calls_callrecording", ("recording_sid",)),
]


# --- CHECK constraints ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """An enum column: the documented values, exact case (D7), and values it must refuse."""

    table: str
    column: str
    values: tuple[str, ...]
    rejected: tuple[str, ...]
    nullable: bool = False
    xfail: str | None = None

    @property
    def id(self) -> str:
        return f"{self.table}.{self.column}"


def _choice(table, column, values: str, rejected: str, *, nullable=False, xfail=None) -> Choice:
    return Choice(table, column, tuple(values.split()), tuple(rejected.split()), nullable, xfail)


# D8: what Twilio sends; none of it may be stored as it comes (a mapping turns it into D7's values).
TWILIO_CALL_STATUSES = (
    "queued initiated ringing in-progress completed busy failed no-answer canceled"
)

CHOICES = [
    _choice("authentication_user", "account_type", "company customer", "admin Company"),
    _choice(
        "authentication_company",
        "industry",
        "technology healthcare finance retail manufacturing other",
        "Technology media",
        nullable=True,
    ),
    _choice(
        "authentication_companyuser",
        "role",
        "ceo manager sales_manager support_staff",
        "owner CEO admin",
    ),
    _choice(
        "authentication_companyuser",
        "department",
        "sales support marketing management",
        "hr Sales",
        nullable=True,
    ),
    _choice(
        "authentication_customercompany",
        "customer_status",
        "active inactive blocked",
        "deleted Active",
    ),
    _choice(
        "authentication_userinvitation", "role", "ceo manager sales_manager support_staff", "owner"
    ),
    _choice(
        "authentication_userinvitation", "status", "pending accepted expired", "revoked Pending"
    ),
    _choice(
        "crm_lead",
        "lead_source",
        "website referral cold_call social_media event other",
        "cold-call Website",
    ),
    _choice("crm_lead", "status", "new contacted qualified unqualified converted", "won New"),
    _choice("crm_deal", "status", "open won lost", "closed Open"),
    _choice("crm_deal", "priority", "low medium high", "urgent Low"),
    _choice("crm_activity", "activity_type", "note call email meeting task", "sms Note"),
    _choice("customers_customerprofile", "customer_type", "individual business", "company"),
    _choice(
        "customers_order",
        "status",
        "pending processing shipped delivered cancelled refunded",
        "canceled Pending",
    ),
    _choice("customers_order", "payment_status", "pending paid failed refunded", "unpaid Paid"),
    _choice(
        "customers_customerinteraction",
        "interaction_type",
        "call email meeting support purchase inquiry",
        "sms Call",
    ),
    _choice(
        "customers_customerinteraction",
        "sentiment",
        "positive neutral negative",
        "mixed",
        nullable=True,
    ),
    _choice("emails_emailaccount", "provider", "gmail outlook smtp imap", "yahoo IMAP"),
    _choice(
        "emails_emailthread",
        "category",
        "primary social promotions updates lead deal customer complaint other",
        "spam Primary",
    ),
    _choice("emails_emailthread", "sentiment", "positive neutral negative", "mixed", nullable=True),
    _choice("emails_email", "direction", "inbound outbound", "Inbound Outbound sent"),
    _choice("emails_email", "status", "draft queued sent delivered failed bounced", "opened Sent"),
    _choice("emails_emailtemplate", "category", "lead deal customer general", "other"),
    _choice(
        "emails_emailrule",
        "trigger",
        "email_received email_sent lead_created deal_created",
        "received sent",
    ),
    _choice("emails_emailsynclog", "status", "running completed failed", "queued Running"),
    _choice("emails_emailtracking", "event_type", "open click", "opened Open"),
    _choice("calls_phonenumber", "number_type", "Mobile Landline VoIP", "mobile voip Toll-free"),
    _choice("calls_call", "direction", "Inbound Outbound", "inbound outbound"),
    _choice(
        "calls_call",
        "status",
        "Initiated Ringing InProgress Completed Failed Busy NoAnswer Cancelled",
        TWILIO_CALL_STATUSES + " Queued Canceled In-Progress",
    ),
    _choice(
        "calls_call",
        "disposition",
        "Connected NoAnswer Busy Failed Voicemail other",
        "connected Other no-answer",
        nullable=True,
    ),
    _choice("notifications_notification", "type", "info success warning error", "debug Info"),
    _choice("issues_issue", "status", "open in_progress resolved closed", "in-progress Open"),
    _choice("issues_issue", "priority", "low medium high urgent", "critical Low"),
    _choice("issues_issue", "issue_type", "bug feature task", "epic Bug"),
]


@dataclass(frozen=True)
class Range:
    table: str
    column: str
    low: int
    high: int | None  # None: no upper bound
    xfail: str | None = None


RANGES = [
    Range("crm_dealstage", "probability", 0, 100),
    Range("crm_deal", "probability", 0, 100),
    Range("authentication_company", "employee_count", 0, None),  # "Positive"
]


def range_params(*, inside: bool) -> list:
    """Return the boundary values of every range: the bounds themselves, or one step outside."""
    params = []
    for r in RANGES:
        col = f"{r.table}.{r.column}"
        if inside:
            values = [(r.low, f"{col}={r.low}")] + (
                [(r.high, f"{col}={r.high}")] if r.high is not None else []
            )
        else:
            values = [(r.low - 1, f"{col}>={r.low}")]
            if r.high is not None:
                values.append((r.high + 1, f"{col}<={r.high}"))
        params += [
            pytest.param(r, value, id=case_id, marks=_marks(r.xfail)) for value, case_id in values
        ]
    return params


# --- NOT NULL -------------------------------------------------------------------------------------

# The required columns that carry meaning: tenant and owner keys, identifiers, enums without a
# default, money, and the timestamps the document marks Not Null.
NOT_NULL = {
    "authentication_user": "username email password account_type date_joined",
    "authentication_company": "company_name created_by_id is_active",
    "authentication_companyuser": "user_id company_id role joined_at",
    "authentication_customer": "user_id",
    "authentication_customercompany": "customer_id company_id verified customer_status",
    "authentication_userinvitation": (
        "company_id email role invited_by_id invitation_token status expires_at"
    ),
    "crm_lead": "company_id created_by_id first_name last_name email lead_source status",
    "crm_pipeline": "company_id name is_default created_by_id",
    "crm_dealstage": "pipeline_id name order probability",
    "crm_deal": (
        "company_id pipeline_id stage_id created_by_id title value contact_name contact_email "
        "company_name status priority probability"
    ),
    "crm_activity": "company_id user_id activity_type subject description",
    "customers_customertag": "company_id name",
    "customers_customerprofile": "customer_id customer_type lifetime_value total_orders",
    "customers_customerprofile_tags": "customerprofile_id customertag_id",
    "customers_customersegment": "company_id name",
    "customers_order": (
        "company_id customer_id order_number title status total_amount shipping_address "
        "billing_address payment_status"
    ),
    "customers_orderitem": "order_id product_name quantity unit_price total_price",
    "customers_customerinteraction": "company_id customer_id interaction_type subject description",
    "emails_emailaccount": "company_id user_id email provider username password",
    "emails_emailthread": "company_id email_account_id subject last_message_at category",
    "emails_email": "email_account_id message_id from_email subject body_text direction status",
    "emails_emailattachment": "email_id file_name file_size file_type file_path",
    "emails_emailtemplate": "company_id name subject body_html category created_by_id",
    "emails_emailrule": "company_id name trigger created_by_id",
    "emails_emailsynclog": "email_account_id sync_started_at status",
    "emails_emailtracking": "email_id event_type tracked_at",
    "calls_phonenumber": (
        "company_id user_id phone_number country_code number_type twilio_phone_sid"
    ),
    "calls_call": "company_id direction from_number to_number status twilio_call_sid",
    "calls_callrecording": "call_id recording_url recording_sid duration",
    "calls_callnote": "call_id user_id note",
    "calls_voicemailmessage": "company_id from_number duration recording_url",
    "notifications_notification": "user_id title message type is_read",
    "issues_issue": "title status priority issue_type company_id created_by_id",
}

NOT_NULL_CASES = [
    (table, column) for table, columns in NOT_NULL.items() for column in columns.split()
]


# --- indexes the document lists -------------------------------------------------------------------

# (table, columns); a column written "-name" is descending. A unique constraint counts as an index.
INDEXES = [
    ("authentication_user", "email"),
    ("authentication_user", "username"),
    ("authentication_user", "account_type"),
    ("authentication_company", "created_by_id"),
    ("authentication_company", "is_active"),
    ("authentication_company", "industry"),
    ("authentication_companyuser", "user_id"),
    ("authentication_companyuser", "company_id"),
    ("authentication_companyuser", "role"),
    ("authentication_companyuser", "department"),
    ("authentication_customer", "user_id"),
    ("authentication_customercompany", "customer_id"),
    ("authentication_customercompany", "company_id"),
    ("authentication_customercompany", "verified"),
    ("authentication_userinvitation", "company_id"),
    ("authentication_userinvitation", "email"),
    ("authentication_userinvitation", "invitation_token"),
    ("authentication_userinvitation", "status"),
    ("authentication_userinvitation", "expires_at"),
    ("crm_lead", "company_id status"),
    ("crm_lead", "company_id email"),
    ("crm_lead", "created_at"),
    ("crm_pipeline", "company_id is_active"),
    ("crm_pipeline", "company_id is_default"),
    ("crm_dealstage", "pipeline_id is_active"),
    ("crm_dealstage", "pipeline_id order"),
    ("crm_deal", "company_id status"),
    ("crm_deal", "company_id pipeline_id stage_id"),
    ("crm_deal", "company_id expected_close_date"),
    ("crm_deal", "created_at"),
    ("crm_activity", "company_id lead_id"),
    ("crm_activity", "company_id deal_id"),
    ("crm_activity", "created_at"),
    ("customers_customertag", "company_id name"),
    ("customers_order", "company_id customer_id"),
    ("customers_order", "company_id status"),
    ("customers_order", "order_date"),
    ("customers_order", "order_number"),
    ("customers_customerinteraction", "company_id customer_id"),
    ("customers_customerinteraction", "company_id interaction_type"),
    ("customers_customerinteraction", "interaction_type"),
    ("customers_customerinteraction", "created_at"),
    ("emails_emailaccount", "company_id email"),
    ("emails_emailaccount", "user_id is_default"),
    ("emails_emailthread", "company_id last_message_at"),
    ("emails_emailthread", "email_account_id is_read"),
    ("emails_emailthread", "category"),
    ("emails_email", "thread_id sent_at"),
    ("emails_email", "email_account_id status"),
    ("emails_email", "direction"),
    ("emails_emailtemplate", "company_id category"),
    ("emails_emailtracking", "email_id event_type"),
    ("emails_emailtracking", "-tracked_at"),
    ("calls_phonenumber", "company_id is_active"),
    ("calls_phonenumber", "user_id is_default"),
    ("calls_call", "company_id user_id"),
    ("calls_call", "company_id direction"),
    ("calls_call", "company_id status"),
    ("calls_call", "company_id created_at"),
    ("calls_call", "lead_id"),
    ("calls_call", "deal_id"),
    ("calls_call", "customer_id"),
    ("calls_call", "twilio_call_sid"),
    ("calls_callrecording", "call_id"),
    ("calls_callrecording", "recording_sid"),
    ("calls_callnote", "call_id"),
    ("calls_callnote", "user_id"),
    ("calls_voicemailmessage", "company_id is_listened"),
    ("calls_voicemailmessage", "phone_number_id"),
    ("calls_voicemailmessage", "created_at"),
    ("notifications_notification", "user_id"),
    ("notifications_notification", "is_read"),
    ("notifications_notification", "created_at"),
    ("issues_issue", "status"),
    ("issues_issue", "priority"),
    ("issues_issue", "assigned_to_id"),
    ("issues_issue", "company_id"),
    ("issues_issue", "created_at"),
]


# --- primary keys (D1) ----------------------------------------------------------------------------


def primary_key_type(table: str) -> str:
    """Return D1's type of ``table``'s ``id`` (PostgreSQL's information_schema spelling)."""
    if table in ("notifications_notification", "issues_issue"):
        return "uuid"
    if table.startswith("authentication_"):
        return "integer"
    return "bigint"  # crm_*, customers_*, emails_*, calls_*, and Django's join table
