"""The company console login's own demo mailbox: a few threads about the tenant's CRM records.

Mail is personal (the inbox shows only the signed-in user's mailboxes), so the staff CEO whose
login ``seed_demo`` prints gets a mailbox of their own. Its servers are made up, so it is
never synced (``sync_enabled=False``); the attachment is stored through Django's storage.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.domain.authentication.models import Company, Customer, User
from hub.domain.crm.models import Deal, Lead
from hub.domain.emails.attachments import email_attachments_store
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailAttachment,
    EmailStatus,
    EmailTemplate,
    Provider,
    TemplateCategory,
)
from hub.domain.emails.parse import ParsedAttachment
from hub.domain.emails.services import email_account_create, email_store, email_thread_create
from hub.ops.demo.data import (
    CEO_MAILBOX,
    MAILBOX_PASSWORD,
    REPLY_TEMPLATE,
    MailboxThreadSpec,
    TenantSpec,
)

_HOURS_BETWEEN_MESSAGES = 5


def demo_mailbox_create(
    *, spec: TenantSpec, company: Company, user: User, address: str
) -> EmailAccount:
    """A demo mailbox on the tenant's made-up servers, never synced (the hosts do not exist)."""
    return email_account_create(
        company=company,
        user=user,
        email=address,
        provider=Provider.IMAP,
        username=address,
        password=MAILBOX_PASSWORD,
        is_default=True,
        imap_host=f"imap.{spec.domain}",
        imap_port=993,
        smtp_host=f"smtp.{spec.domain}",
        smtp_port=587,
        sync_enabled=False,
    )


def ceo_mailbox_seed(*, spec: TenantSpec, company: Company, ceo: User, now: datetime) -> int:
    """Give the CEO a mailbox with the demo threads; return how many threads were made."""
    account = demo_mailbox_create(spec=spec, company=company, user=ceo, address=ceo.email)
    for number, thread_spec in enumerate(CEO_MAILBOX):
        _thread_seed(spec, company, account, thread_spec, number=number, now=now)
    _reply_template_seed(company, ceo)
    return len(CEO_MAILBOX)


def ceo_mailbox_missing(*, company: Company, ceo: User) -> bool:
    """Whether the CEO has no mailbox in the company yet (a demo seeded before it had one)."""
    return not EmailAccount.objects.filter(company=company, user=ceo).exists()


def demo_attachment_names(companies) -> list[str]:
    """The storage names of the demo companies' attachment files (to delete with them)."""
    rows = EmailAttachment.objects.filter(email__email_account__company__in=companies)
    return [name for name in rows.values_list("file_path", flat=True) if name]


def _about(
    spec: TenantSpec, company: Company, about: tuple[str, int]
) -> tuple[Lead | Deal | Customer, str, str]:
    """The thread's CRM record (found by what the demo seeded), and its person's name, e-mail."""
    kind, index = about
    if kind == "lead":
        lead_spec = spec.leads[index]
        lead = Lead.objects.get(
            company=company, first_name=lead_spec.first, last_name=lead_spec.last
        )
        return lead, f"{lead.first_name} {lead.last_name}", lead.email or ""
    if kind == "deal":
        deal = Deal.objects.get(company=company, title=spec.deals[index].title)
        return deal, deal.contact_name or "", deal.contact_email or ""
    customer = Customer.objects.select_related("user").get(user__email=spec.customers[index].email)
    return customer, customer.user.get_full_name(), customer.user.email


def _thread_seed(
    spec: TenantSpec,
    company: Company,
    account: EmailAccount,
    ts: MailboxThreadSpec,
    *,
    number: int,
    now: datetime,
) -> None:
    record, their_name, their_email = _about(spec, company, ts.about)
    count = len(ts.messages)
    last_at = now - timedelta(hours=ts.hours_ago)
    times = [
        last_at - timedelta(hours=_HOURS_BETWEEN_MESSAGES * (count - 1 - i)) for i in range(count)
    ]
    owner = account.user
    ours = [i for i, (direction, _) in enumerate(ts.messages) if direction == Direction.OUTBOUND]
    first_unread = (ours[-1] + 1 if ours else 0) if ts.unread else count
    thread = email_thread_create(
        account=account,
        subject=ts.subject,
        participants=[account.email, their_email],
        last_message_at=times[-1],
        category=ts.category,
        is_read=not ts.unread,
        lead=record if isinstance(record, Lead) else None,
        deal=record if isinstance(record, Deal) else None,
        customer=record if isinstance(record, Customer) else None,
    )
    previous: Email | None = None
    for position, ((direction, body), sent_at) in enumerate(zip(ts.messages, times, strict=True)):
        inbound = direction == Direction.INBOUND
        last = position == count - 1
        domain = their_email.rpartition("@")[2] if inbound else spec.domain
        signature = their_name if inbound else owner.get_full_name()
        previous = email_store(
            account=account,
            thread=thread,
            message_id=f"<demo.inbox.{number}.{position}@{domain}>",
            from_email=their_email if inbound else account.email,
            from_name=their_name if inbound else owner.get_full_name(),
            to_emails=[account.email] if inbound else [their_email],
            subject=ts.subject if position == 0 else f"Re: {ts.subject}",
            body_text=f"{body}\n\n{signature}",
            direction=direction,
            status=EmailStatus.DELIVERED if inbound else EmailStatus.SENT,
            is_read=position < first_unread,
            read_at=sent_at if position < first_unread else None,
            sent_at=sent_at,
            delivered_at=sent_at,
            folder="INBOX" if inbound else "Sent",
            created_by=None if inbound else owner,
            reply_to=previous,
            in_reply_to=previous.message_id if previous else None,
            references=previous.message_id if previous else None,
        )
        if last and ts.attachment is not None:
            file_name, content_type, text = ts.attachment
            content = text.encode()
            attachment = ParsedAttachment(file_name, content_type, len(content), content)
            email_attachments_store(email=previous, attachments=[attachment])


def _reply_template_seed(company: Company, author: User) -> None:
    name, subject, body_text = REPLY_TEMPLATE
    if EmailTemplate.objects.filter(company=company, name=name).exists():
        return
    # No template service exists yet; a template is plain data, validated like a service would.
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in body_text.split("\n\n"))
    template = EmailTemplate(
        company=company,
        name=name,
        category=TemplateCategory.GENERAL,
        created_by=author,
        subject=subject,
        body_text=body_text,
        body_html=paragraphs,
    )
    template.full_clean()
    template.save()
