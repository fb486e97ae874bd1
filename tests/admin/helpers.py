"""Helpers of the admin tests: rows of every table for a tenant, URLs, form data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib import admin
from django.forms import MultiWidget
from django.urls import reverse
from django.utils import timezone

from hub.domain.authentication.models import CompanyUser, CustomerCompany, UserInvitation
from hub.domain.calls.models import CallNote, CallRecording, OpeningHours, VoicemailMessage
from hub.domain.crm.models import Activity
from hub.domain.customers.models import (
    CustomerInteraction,
    CustomerProfile,
    CustomerSegment,
    CustomerTag,
    Order,
    OrderItem,
)
from hub.domain.emails.crypto import credential_encrypt
from hub.domain.emails.models import (
    EmailAttachment,
    EmailDelivery,
    EmailLink,
    EmailRule,
    EmailRuleProblem,
    EmailSyncLog,
    EmailTemplate,
    EmailThread,
    EmailThreadRef,
    EmailTracking,
    MailFolderCursor,
    MailSyncState,
)
from hub.domain.issues.models import Issue
from hub.integrations.slack.models import (
    SlackAlert,
    SlackCallRequest,
    SlackOAuthState,
    SlackUserLink,
)
from hub.integrations.slack.services import slack_installation_register
from tests import factories


def mailbox_password(label: str) -> str:
    return f"{label}-mailbox-secret-9f3a"


def tenant_rows(company, owner, label: str) -> dict[str, object]:
    """Create one row of every shared table for ``company``, each naming ``label``."""
    now = timezone.now()
    customer = factories.CustomerFactory(user__first_name=label, user__last_name="Customer")
    CustomerCompany.objects.create(customer=customer, company=company, verified=True)
    lead = factories.LeadFactory(
        company=company, first_name=label, last_name="Lead", company_name=f"{label} prospect"
    )
    deal = factories.DealFactory(company=company, title=f"{label} deal", lead=lead)
    tag = CustomerTag.objects.create(company=company, name=f"{label} tag")
    profile = CustomerProfile.objects.create(customer=customer, industry=f"{label} industry")
    profile.tags.add(tag)
    order = Order.objects.create(
        company=company,
        customer=customer,
        order_number=f"{label}-0001",
        title=f"{label} order",
        total_amount=Decimal("20.00"),
        shipping_address="1 Main Street",
        billing_address="1 Main Street",
    )
    account = factories.EmailAccountFactory(
        company=company,
        user=owner,
        email=f"inbox@{label.lower()}.test",
        password=credential_encrypt(mailbox_password(label)),
        oauth_token=credential_encrypt(f"{label}-oauth-token-7c1e"),
    )
    thread = EmailThread.objects.create(
        company=company,
        email_account=account,
        subject=f"{label} thread",
        last_message_at=now,
        lead=lead,
        deal=deal,
        customer=customer,
    )
    email = factories.EmailFactory(email_account=account, thread=thread, subject=f"{label} email")
    sent = factories.EmailFactory(
        email_account=account,
        thread=thread,
        subject=f"{label} offer",
        from_email=account.email,
        to_emails=["buyer@client.test"],
        direction="outbound",
        status="failed",
    )
    template = EmailTemplate.objects.create(
        company=company,
        name=f"{label} template",
        subject="Hello",
        body_html="<p>Hello</p>",
        category="general",
        created_by=owner,
    )
    number = factories.PhoneNumberFactory(company=company, user=owner)
    slack = slack_installation_register(
        team_id=f"T{label.upper()}01",
        company=company,
        bot_token=f"xoxb-{label.lower()}-slack-token-5e2b",
        team_name=f"{label} workspace",
    )
    call = factories.CallFactory(
        company=company,
        phone_number=number,
        user=owner,
        lead=lead,
        deal=deal,
        customer=customer,
        notes=f"{label} call",
    )
    rule = EmailRule.objects.create(
        company=company,
        name=f"{label} rule",
        trigger="email_received",
        template=template,
        created_by=owner,
    )
    return {
        "customer": customer,
        "membership": CompanyUser.objects.get(company=company, user=owner),
        "invitation": UserInvitation.objects.create(
            company=company,
            email=f"invitee@{label.lower()}.test",
            role="manager",
            invited_by=owner,
            expires_at=now + timedelta(days=7),
        ),
        "lead": lead,
        "deal": deal,
        "activity": Activity.objects.create(
            company=company,
            user=owner,
            lead=lead,
            deal=deal,
            activity_type="note",
            subject=f"{label} activity",
            description="Talked",
        ),
        "segment": CustomerSegment.objects.create(company=company, name=f"{label} segment"),
        "order": order,
        "item": OrderItem.objects.create(
            order=order,
            product_name=f"{label} widget",
            unit_price=Decimal("10.00"),
            quantity=2,
            total_price=Decimal("20.00"),
        ),
        "interaction": CustomerInteraction.objects.create(
            company=company,
            customer=customer,
            user=owner,
            interaction_type="call",
            subject=f"{label} interaction",
            description="Called",
        ),
        "account": account,
        "thread": thread,
        "email": email,
        "attachment": EmailAttachment.objects.create(
            email=email,
            file_name=f"{label}.pdf",
            file_size=10,
            file_type="application/pdf",
            file_path="email_attachments/quote.pdf",
        ),
        "template": template,
        "rule": rule,
        "sync_log": EmailSyncLog.objects.create(
            email_account=account,
            sync_started_at=now,
            status="failed",
            error_message=f"{label} sync",
        ),
        "tracking": EmailTracking.objects.create(
            email=email, event_type="click", link_url=f"https://{label.lower()}.test/offer"
        ),
        "sent_email": sent,
        "folder_cursor": MailFolderCursor.objects.create(
            account=account, role="inbox", name=f"{label} Inbox", uidvalidity=7, last_uid=42
        ),
        "sync_state": MailSyncState.objects.create(
            account=account,
            last_error=f"{label} mailbox refused the login",
            failing_since=now,
        ),
        "thread_ref": EmailThreadRef.objects.create(
            account=account, message_id=f"<{label}-first@mail.test>", thread=thread
        ),
        "delivery": EmailDelivery.objects.create(
            email=sent,
            state="failed",
            attempts=5,
            last_error=f"{label} SMTP said 550 mailbox unavailable",
            last_attempt_at=now,
        ),
        "link": EmailLink.objects.create(
            email=sent, url=f"https://{label.lower()}.test/Offer-{label}"
        ),
        "rule_problem": EmailRuleProblem.objects.create(
            rule=rule, message=f"{label} rule has no actions", last_seen_at=now
        ),
        "number": number,
        "call": call,
        "recording": CallRecording.objects.create(
            call=call,
            recording_url="https://recordings.test/1",
            recording_sid=f"RE{label}",
            duration=5,
        ),
        "note": CallNote.objects.create(call=call, user=owner, note=f"{label} note"),
        "voicemail": VoicemailMessage.objects.create(
            company=company,
            phone_number=number,
            from_number="+14155550123",
            duration=7,
            recording_url="https://recordings.test/vm",
            transcription=f"{label} voicemail",
        ),
        "opening_hours": OpeningHours.objects.create(
            company=company,
            timezone="Europe/Berlin",
            closed_message=f"{label} is closed. Please leave a message after the tone.",
        ),
        "slack_installation": slack,
        "slack_user_link": SlackUserLink.objects.create(
            installation=slack, slack_user_id=f"U{label.upper()}01", user=owner, email=owner.email
        ),
        "slack_call_request": SlackCallRequest.objects.create(
            request_id=f"{label.lower()}-request-1",
            installation=slack,
            user=owner,
            to_number="+14155550123",
            outcome=f"{label} call placed",
        ),
        "slack_alert": SlackAlert.objects.create(
            installation=slack,
            event_id=deal.pk,
            kind="deal_moved",
            channel_id=f"C{label.upper()}01",
            recipient=f"channel:C{label.upper()}01",
            payload={"id": deal.pk, "title": deal.title},
            status="failed",
            last_error=f"{label} alerts channel archived",
        ),
        "slack_oauth_state": SlackOAuthState.objects.create(
            state=f"{label.lower()}-install-state-1", user=owner, company=company
        ),
        "notification": factories.NotificationFactory(user=owner, title=f"{label} notification"),
        "issue": Issue.objects.create(
            company=company,
            title=f"{label} issue",
            issue_type="bug",
            created_by=owner,
            deal=deal,
            contact=customer,
        ),
    }


def registered_models() -> list[type]:
    return sorted(admin.site._registry, key=lambda model: model._meta.label)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def changeform_data(response) -> dict[str, object]:
    """The POST data that submits an admin add/change form as the page shows it."""
    data: dict[str, object] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            key, value = form.add_prefix(name), form[name].value()
            widget = field.widget
            if isinstance(widget, MultiWidget):
                for index, part in enumerate(widget.decompress(value)):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, bool):
                if value:
                    data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            elif value is not None:
                data[key] = str(value)
    return data
