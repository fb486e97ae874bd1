"""Write one demo tenant through the domain services, as real use would."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from hub.domain.authentication.models import Company, Customer, Role, User
from hub.domain.authentication.services import (
    company_create,
    company_user_add,
    customer_company_link,
    customer_company_verify,
    customer_create,
    user_create,
)
from hub.domain.calls.models import CallDirection, CallStatus, Disposition
from hub.domain.calls.services import (
    call_create,
    call_disposition_set,
    call_note_add,
    call_status_set,
    phone_number_add,
    voicemail_create,
)
from hub.domain.crm.models import Deal, DealStage, DealStatus, Lead, LeadStatus, Pipeline
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
from hub.domain.customers.services import order_create, order_item_add
from hub.domain.emails.models import (
    Direction,
    EmailStatus,
    EmailTemplate,
    TemplateCategory,
)
from hub.domain.emails.services import email_store, email_thread_create
from hub.domain.notifications.models import NotificationType
from hub.domain.notifications.services import notification_create, notification_mark_read
from hub.ops.demo.data import (
    CALLS,
    CUSTOMER_PASSWORD,
    NOTIFICATIONS,
    TEAM_PASSWORD,
    TenantSpec,
)
from hub.ops.demo.mailbox import ceo_mailbox_seed, demo_mailbox_create


def _slug(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _contact_email(person: str, company_name: str) -> str:
    first, *rest = person.split()
    last = rest[-1] if rest else "contact"
    return f"{_slug(first)}.{_slug(last)}@{_slug(company_name)[:24]}.example.com"


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


def _sid(prefix: str) -> str:
    # Twilio SIDs are two letters and 32 hex digits; uuid4 makes collisions a non-issue.
    return prefix + uuid.uuid4().hex


def tenant_seed(spec: TenantSpec, *, now: datetime, staff_ceo: bool) -> Company:
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
    if staff_ceo:  # the printed company login: a mailbox of its own for the console's inbox
        ceo_mailbox_seed(spec=spec, company=company, ceo=ceo, now=now)
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
            call_status_set(call=call, status=CallStatus.FAILED, duration=0, end_time=started)
            continue
        call_status_set(call=call, status=CallStatus.RINGING)
        if scenario.status == CallStatus.COMPLETED:
            call_status_set(call=call, status=CallStatus.IN_PROGRESS, start_time=started)
            call_status_set(
                call=call,
                status=CallStatus.COMPLETED,
                duration=scenario.duration,
                end_time=started + timedelta(seconds=scenario.duration),
            )
            call_disposition_set(call=call, disposition=Disposition.CONNECTED)
            call_note_add(call=call, user=user, note=scenario.note)
            continue
        call_status_set(
            call=call, status=scenario.status, duration=0, end_time=started + timedelta(seconds=25)
        )
        if scenario.voicemail:
            call_disposition_set(call=call, disposition=Disposition.VOICEMAIL)
            voicemail_create(
                company=company,
                phone_number=number,
                from_number=other["phone"],
                duration=14,
                recording_url=f"https://recordings.example.com/{_sid('RE')}.mp3",
                transcription=scenario.voicemail,
            )
        elif scenario.status in (CallStatus.NO_ANSWER, CallStatus.BUSY):
            call_disposition_set(call=call, disposition=scenario.status)


def _seed_email(spec, company, users, leads, deals, customers, *, now: datetime) -> None:
    seller, support = users[2], users[-1]
    accounts = {
        "sales": demo_mailbox_create(spec=spec, company=company, user=seller, address=seller.email),
        "support": demo_mailbox_create(
            spec=spec, company=company, user=support, address=f"support@{spec.domain}"
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
