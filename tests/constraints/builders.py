"""Build one valid row of any shared table, with fresh parents unless the caller passes them.

Every parent a builder creates is its own (a new user, a new company), so deleting the parent a
test passes in reaches the child only through the foreign key under test.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.db import models
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser, Customer, CustomerCompany, UserInvitation
from hub.domain.calls.models import Call, CallNote, CallRecording, PhoneNumber, VoicemailMessage
from hub.domain.crm.models import Activity, Deal, DealStage, Lead, Pipeline
from hub.domain.customers.models import (
    CustomerInteraction,
    CustomerProfile,
    CustomerSegment,
    CustomerTag,
    Order,
    OrderItem,
)
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailAttachment,
    EmailRule,
    EmailSyncLog,
    EmailTemplate,
    EmailThread,
    EmailTracking,
)
from hub.domain.issues.models import Issue
from hub.domain.notifications.models import Notification
from tests import factories

_serial = itertools.count(1)


def _n() -> int:
    return next(_serial)


def model_for(table: str) -> type[models.Model]:
    """Return the model (or auto-created M2M through model) stored in ``table``."""
    for model in apps.get_models(include_auto_created=True):
        if model._meta.db_table == table:
            return model
    raise LookupError(table)


def field_for(model: type[models.Model], column: str) -> models.Field:
    return next(f for f in model._meta.concrete_fields if f.column == column)


def _with(kw: dict, **defaults: Callable[[], object]) -> dict:
    """Fill in each missing keyword from its default factory (called only when missing)."""
    for name, make in defaults.items():
        if name not in kw:
            kw[name] = make()
    return kw


def user(**kw):
    return factories.UserFactory(**kw)


def company(**kw):
    return factories.CompanyFactory(**kw)


def companyuser(**kw):
    return CompanyUser.objects.create(
        **_with(kw, user=user, company=company, role=lambda: "manager")
    )


def customer(**kw):
    return Customer.objects.create(**_with(kw, user=lambda: user(account_type="customer")))


def customercompany(**kw):
    return CustomerCompany.objects.create(**_with(kw, customer=customer, company=company))


def userinvitation(**kw):
    return UserInvitation.objects.create(
        **_with(
            kw,
            company=company,
            invited_by=user,
            email=lambda: f"invitee{_n()}@example.test",
            role=lambda: "support_staff",
            expires_at=lambda: timezone.now() + timedelta(days=7),
        )
    )


def lead(**kw):
    return Lead.objects.create(
        **_with(
            kw,
            company=company,
            created_by=user,
            first_name=lambda: "Lee",
            last_name=lambda: "Prospect",
            email=lambda: f"lead{_n()}@prospect.test",
            lead_source=lambda: "website",
        )
    )


def pipeline(**kw):
    return Pipeline.objects.create(
        **_with(kw, company=company, created_by=user, name=lambda: f"Pipeline {_n()}")
    )


def dealstage(**kw):
    n = _n()
    return DealStage.objects.create(
        **_with(
            kw,
            pipeline=pipeline,
            name=lambda: f"Stage {n}",
            order=lambda: n,
            probability=lambda: 10,
        )
    )


def deal(**kw):
    _with(kw, company=company)
    _with(kw, pipeline=lambda: pipeline(company=kw["company"]))
    _with(kw, stage=lambda: dealstage(pipeline=kw["pipeline"]))
    return Deal.objects.create(
        **_with(
            kw,
            created_by=user,
            title=lambda: f"Deal {_n()}",
            value=lambda: Decimal("1000.00"),
            contact_name=lambda: "Pat Contact",
            contact_email=lambda: "pat@client.test",
            company_name=lambda: "Client Ltd",
            probability=lambda: 10,
        )
    )


def activity(**kw):
    return Activity.objects.create(
        **_with(
            kw,
            company=company,
            user=user,
            activity_type=lambda: "note",
            subject=lambda: "Called",
            description=lambda: "Left a message",
        )
    )


def customertag(**kw):
    return CustomerTag.objects.create(**_with(kw, company=company, name=lambda: f"Tag {_n()}"))


def customerprofile(**kw):
    return CustomerProfile.objects.create(**_with(kw, customer=customer))


def customerprofile_tags(**kw):
    through = CustomerProfile.tags.through
    return through.objects.create(
        **_with(kw, customerprofile=customerprofile, customertag=customertag)
    )


def customersegment(**kw):
    return CustomerSegment.objects.create(
        **_with(kw, company=company, name=lambda: f"Segment {_n()}")
    )


def order(**kw):
    return Order.objects.create(
        **_with(
            kw,
            company=company,
            customer=customer,
            order_number=lambda: f"ORD-{_n()}",
            title=lambda: "Order",
            total_amount=lambda: Decimal("10.00"),
            shipping_address=lambda: "1 Ship St",
            billing_address=lambda: "1 Bill St",
        )
    )


def orderitem(**kw):
    return OrderItem.objects.create(
        **_with(
            kw,
            order=order,
            product_name=lambda: "Widget",
            unit_price=lambda: Decimal("5.00"),
            total_price=lambda: Decimal("10.00"),
            quantity=lambda: 2,
        )
    )


def customerinteraction(**kw):
    return CustomerInteraction.objects.create(
        **_with(
            kw,
            company=company,
            customer=customer,
            interaction_type=lambda: "call",
            subject=lambda: "Check-in",
            description=lambda: "All good",
        )
    )


def emailaccount(**kw):
    return EmailAccount.objects.create(
        **_with(
            kw,
            company=company,
            user=user,
            email=lambda: f"inbox{_n()}@company.test",
            provider=lambda: "imap",
            username=lambda: "inbox",
            password=lambda: "not-a-real-token",
        )
    )


def emailthread(**kw):
    return EmailThread.objects.create(
        **_with(
            kw,
            company=company,
            email_account=emailaccount,
            subject=lambda: "Thread",
            last_message_at=timezone.now,
        )
    )


def email(**kw):
    return Email.objects.create(
        **_with(
            kw,
            email_account=emailaccount,
            message_id=lambda: f"<msg{_n()}@mail.test>",
            from_email=lambda: "sender@mail.test",
            subject=lambda: "Hello",
            body_text=lambda: "Hi",
            direction=lambda: "inbound",
        )
    )


def emailattachment(**kw):
    return EmailAttachment.objects.create(
        **_with(
            kw,
            email=email,
            file_name=lambda: "a.txt",
            file_size=lambda: 3,
            file_type=lambda: "text/plain",
            file_path=lambda: "email_attachments/a.txt",
        )
    )


def emailtemplate(**kw):
    return EmailTemplate.objects.create(
        **_with(
            kw,
            company=company,
            created_by=user,
            name=lambda: f"Template {_n()}",
            subject=lambda: "Hi {{customer_name}}",
            body_html=lambda: "<p>Hi</p>",
            category=lambda: "general",
        )
    )


def emailrule(**kw):
    return EmailRule.objects.create(
        **_with(
            kw,
            company=company,
            created_by=user,
            name=lambda: f"Rule {_n()}",
            trigger=lambda: "email_received",
        )
    )


def emailsynclog(**kw):
    return EmailSyncLog.objects.create(
        **_with(
            kw, email_account=emailaccount, sync_started_at=timezone.now, status=lambda: "running"
        )
    )


def emailtracking(**kw):
    return EmailTracking.objects.create(**_with(kw, email=email, event_type=lambda: "open"))


def phonenumber(**kw):
    n = _n()
    return PhoneNumber.objects.create(
        **_with(
            kw,
            company=company,
            user=user,
            phone_number=lambda: f"+1415555{n:04d}",
            country_code=lambda: "US",
            number_type=lambda: "VoIP",
            twilio_phone_sid=lambda: f"PN{n:032d}",
        )
    )


def call(**kw):
    return Call.objects.create(
        **_with(
            kw,
            company=company,
            direction=lambda: "Inbound",
            from_number=lambda: "+14155550100",
            to_number=lambda: "+14155550199",
            twilio_call_sid=lambda: f"CA{_n():032d}",
        )
    )


def callrecording(**kw):
    return CallRecording.objects.create(
        **_with(
            kw,
            call=call,
            recording_url=lambda: "https://api.twilio.test/rec.mp3",
            recording_sid=lambda: f"RE{_n():032d}",
            duration=lambda: 30,
        )
    )


def callnote(**kw):
    return CallNote.objects.create(
        **_with(kw, call=call, user=user, note=lambda: "Call back Friday")
    )


def voicemailmessage(**kw):
    return VoicemailMessage.objects.create(
        **_with(
            kw,
            company=company,
            from_number=lambda: "+14155550100",
            duration=lambda: 12,
            recording_url=lambda: "https://api.twilio.test/vm.mp3",
        )
    )


def notification(**kw):
    return Notification.objects.create(
        **_with(kw, user=user, title=lambda: "Hi", message=lambda: "Hello")
    )


def issue(**kw):
    return Issue.objects.create(
        **_with(kw, company=company, created_by=user, title=lambda: "Bug", issue_type=lambda: "bug")
    )


BUILDERS: dict[str, Callable[..., models.Model]] = {
    "authentication_user": user,
    "authentication_company": company,
    "authentication_companyuser": companyuser,
    "authentication_customer": customer,
    "authentication_customercompany": customercompany,
    "authentication_userinvitation": userinvitation,
    "crm_lead": lead,
    "crm_pipeline": pipeline,
    "crm_dealstage": dealstage,
    "crm_deal": deal,
    "crm_activity": activity,
    "customers_customertag": customertag,
    "customers_customerprofile": customerprofile,
    "customers_customerprofile_tags": customerprofile_tags,
    "customers_customersegment": customersegment,
    "customers_order": order,
    "customers_orderitem": orderitem,
    "customers_customerinteraction": customerinteraction,
    "emails_emailaccount": emailaccount,
    "emails_emailthread": emailthread,
    "emails_email": email,
    "emails_emailattachment": emailattachment,
    "emails_emailtemplate": emailtemplate,
    "emails_emailrule": emailrule,
    "emails_emailsynclog": emailsynclog,
    "emails_emailtracking": emailtracking,
    "calls_phonenumber": phonenumber,
    "calls_call": call,
    "calls_callrecording": callrecording,
    "calls_callnote": callnote,
    "calls_voicemailmessage": voicemailmessage,
    "notifications_notification": notification,
    "issues_issue": issue,
}


def build(table: str, **kw) -> models.Model:
    return BUILDERS[table](**kw)
