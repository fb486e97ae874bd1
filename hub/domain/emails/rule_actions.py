"""What a rule does once its conditions match: one function per action (docs/email-rules.md).

Each action says whether it changed something; what it could not do for reasons the rule's
author can fix (a user id of someone outside the company) is kept as a warning, which
:mod:`hub.domain.emails.rules` stores as the rule's problem. An action that raises fails its
whole rule, inside the rule's savepoint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from hub.domain.authentication.checks import company_rows_check
from hub.domain.authentication.models import Company, User
from hub.domain.authentication.selectors import memberships_active
from hub.domain.crm.models import Activity, ActivityType, Deal, Lead, LeadSource
from hub.domain.crm.services import deal_assign, lead_assign, lead_create
from hub.domain.emails.models import (
    Direction,
    Email,
    EmailAccount,
    EmailRule,
    EmailStatus,
    EmailThread,
    RuleTrigger,
)
from hub.domain.emails.rule_schema import EMAIL_TRIGGERS, MAX_TEXT_CHARS, action_is_on
from hub.domain.emails.sending import email_send_queue
from hub.domain.events.payloads import email_snippet
from hub.domain.notifications.services import notification_create

logger = logging.getLogger(__name__)

#: The order actions run in, whatever the order of the JSON's keys (PostgreSQL's jsonb does
#: not keep it): a lead created first is the one a task is linked to and assigned.
ORDER = (
    "set_category",
    "create_lead",
    "assign_user",
    "create_task",
    "create_activity",
    "notify_users",
    "send_template_reply",
    "send_email",
)
DESCRIPTION_CHARS = 1000
#: No automatic reply to mail older than this (a mailbox's history, mail moved back in).
REPLY_MAX_AGE = timedelta(days=2)
#: At most one automatic reply to a sender per mailbox in this time (RFC 3834, 2).
REPLY_INTERVAL = timedelta(days=1)
# Senders that are robots: no-reply addresses, bounces, list software.
_ROBOT = re.compile(
    r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?|"
    r"auto[-_.]?reply|notifications?|daemon)(?:[+._-].*)?$|^owner-|-(?:bounces?|request|owner)"
    r"(?:\+.*)?$",
    re.IGNORECASE,
)
# Subjects of automatic replies and delivery reports (the row keeps no Auto-Submitted header).
_AUTOMATIC = re.compile(
    r"^\s*(?:auto(?:matic)?[ -]?reply|auto:|autoreply|out of (?:the )?office|ooo\b|"
    r"undeliver(?:able|ed)|delivery status notification|mail delivery (?:failed|failure|system)|"
    r"delivery failure|returned mail|failure notice|abwesenheitsnotiz|r[ée]ponse automatique|"
    r"respuesta autom[áa]tica|automatisch antwoord)",
    re.IGNORECASE,
)


@dataclass
class RuleTarget:
    """What rules run on: an e-mail (and its thread), or a new lead or deal."""

    trigger: str
    company: Company
    email: Email | None = None
    lead: Lead | None = None
    deal: Deal | None = None

    @property
    def label(self) -> str:
        """How a problem names the record the rule ran on ("e-mail 12")."""
        if self.email is not None:
            return f"e-mail {self.email.pk}"
        if self.lead is not None:
            return f"lead {self.lead.pk}"
        return f"deal {self.deal.pk}" if self.deal is not None else "nothing"

    @cached_property
    def thread(self) -> EmailThread | None:
        if self.email is None or self.email.thread_id is None:
            return None
        return self.email.thread

    def records(self) -> tuple[Lead | None, Deal | None]:
        """The lead and deal the target is about: the record itself, or its thread's."""
        if self.trigger == RuleTrigger.LEAD_CREATED:
            lead, deal = self.lead, None
        elif self.trigger == RuleTrigger.DEAL_CREATED:
            lead, deal = None, self.deal
        else:
            thread = self.thread
            lead = self.lead or (thread.lead if thread is not None and thread.lead_id else None)
            deal = thread.deal if thread is not None and thread.deal_id else None
        # A thread pointing at another tenant's record (hand-made rows) is refused, not used.
        company_rows_check(company=self.company, lead=lead, deal=deal)
        return lead, deal


class RunFacts:
    """What rules of one run ask about the company, each read once, when first asked."""

    def __init__(self, company: Company) -> None:
        self.company = company

    @cached_property
    def members(self) -> dict[int, User]:
        """The active members (with active user accounts) by user id."""
        rows = memberships_active().filter(company_id=self.company.pk, user__is_active=True)
        return {m.user_id: m.user for m in rows.select_related("user")}

    @cached_property
    def own_addresses(self) -> frozenset[str]:
        """The company's mailbox addresses and its members' logins, lower-case."""
        accounts = EmailAccount.objects.filter(company_id=self.company.pk)
        return frozenset(
            {a.lower() for a in accounts.values_list("email", flat=True)}
            | {user.email.lower() for user in self.members.values()}
        )


@dataclass
class Act:
    """One rule acting on one target: what each action reads and where warnings go."""

    rule: EmailRule
    target: RuleTarget
    facts: RunFacts
    warnings: list[str] = field(default_factory=list)
    acted: bool = False

    def warn(self, text: str) -> None:
        self.warnings.append(f"On {self.target.label}: {text}")

    def owner_id(self) -> int:
        """Who an activity is for: the mailbox's owner or the record's assignee, if they are
        still active members; else the rule's author."""
        target = self.target
        if target.email is not None:
            candidate: int | None = target.email.email_account.user_id
        else:
            record = target.lead or target.deal
            candidate = record.assigned_to_id if record is not None else None
        if candidate is not None and candidate in self.facts.members:
            return candidate
        return self.rule.created_by_id


def rule_actions_run(*, rule: EmailRule, target: RuleTarget, facts: RunFacts) -> Act:
    """Run the rule's actions in :data:`ORDER`; the result says what acted and what not."""
    act = Act(rule=rule, target=target, facts=facts)
    for name in ORDER:
        value = rule.actions.get(name)
        if action_is_on(value) and _ACTIONS[name](act, value):
            act.acted = True
    return act


def reply_refusal(email: Email, own: frozenset[str], *, replying: bool = False) -> str | None:
    """Why no rule answers this e-mail (or makes a lead of its sender); None when one may.

    Never to outbound mail, our own mailboxes and members, robots, automatic replies and
    bounces; when ``replying``, also not to old mail nor twice a day to one sender.
    """
    sender = (email.from_email or "").strip().lower()
    if email.direction != Direction.INBOUND:
        return "it is outbound mail"
    if not sender or "@" not in sender:
        return "it has no sender address"
    if sender in own:
        return "it comes from one of the company's own mailboxes or members"
    if _ROBOT.search(sender.rsplit("@", 1)[0]):
        return "its sender is an automatic address"
    if _AUTOMATIC.match(email.subject or ""):
        return "it is an automatic reply or a delivery report"
    if not replying:
        return None
    now = timezone.now()
    if (email.sent_at or email.created_at or now) < now - REPLY_MAX_AGE:
        return "it is more than two days old"
    answered = Email.objects.filter(
        email_account_id=email.email_account_id,
        direction=Direction.OUTBOUND,
        reply_to__from_email__iexact=sender,
        created_at__gte=now - REPLY_INTERVAL,
    ).exclude(status=EmailStatus.FAILED)
    if answered.exists():
        return "the mailbox already replied to this sender in the last 24 hours"
    return None


# --- the actions --------------------------------------------------------------------------


def _set_category(act: Act, value: str) -> bool:
    email = act.target.email
    if email is None or email.thread_id is None:
        return False
    changed = (
        EmailThread.objects.filter(pk=email.thread_id, company_id=act.target.company.pk)
        .exclude(category=value)
        .update(category=value)
    )
    return changed > 0


def _names(from_name: str, address: str) -> tuple[str, str]:
    words = from_name.replace('"', "").split() or [address.split("@", 1)[0]]
    first, last = words[0], " ".join(words[1:]) or "(unknown)"
    return first[:120], last[:120]


def _create_lead(act: Act, value: Any) -> bool:
    email, thread = act.target.email, act.target.thread
    if email is None:
        return False
    sender = email.from_email.strip().lower()
    if thread is not None and (thread.lead_id or thread.deal_id):
        return False
    if reply_refusal(email, act.facts.own_addresses) is not None:
        return False  # a colleague, a mailbox of ours or a robot is no lead
    try:
        validate_email(sender)
    except ValidationError:
        return False
    company = act.target.company
    lead = Lead.objects.filter(company_id=company.pk, email__iexact=sender).order_by("pk").first()
    if lead is None:
        first, last = _names(email.from_name or "", sender)
        owner = email.email_account.user_id
        lead = lead_create(
            company=company,
            created_by=act.rule.created_by,
            first_name=first,
            last_name=last,
            email=sender,
            lead_source=(value.get("source") if isinstance(value, dict) else None)
            or LeadSource.OTHER,
            assigned_to=act.facts.members.get(owner),
            notes=f"Created by the e-mail rule “{act.rule.name}” from the e-mail "
            f"“{email.subject[:200]}”.",
        )
    act.target.lead = lead
    if thread is not None:
        EmailThread.objects.filter(pk=thread.pk, lead__isnull=True).update(lead=lead)
    return True


def _member(act: Act, user_id: int, action: str) -> User | None:
    user = act.facts.members.get(user_id)
    if user is None:
        act.warn(
            f"{action}: user {user_id} is not an active member of "
            f"{act.target.company.company_name}, so was left out."
        )
    return user


def _assign_user(act: Act, user_id: int) -> bool:
    user = _member(act, user_id, "assign_user")
    if user is None:
        return False
    lead, deal = act.target.records()
    changed = False
    if lead is not None and lead.assigned_to_id != user.pk:
        lead_assign(lead=lead, assignee=user)
        changed = True
    if deal is not None and deal.assigned_to_id != user.pk:
        deal_assign(deal=deal, assignee=user)
        changed = True
    return changed


def _about(target: RuleTarget) -> tuple[str, str]:
    """A short name of the target, and the lines describing it."""
    if target.email is not None:
        e = target.email
        to = ", ".join(str(a) for a in (e.to_emails or []))
        lines = [f"From: {e.from_name} <{e.from_email}>".strip(), f"To: {to}"]
        lines += [f"Subject: {e.subject}", "", email_snippet(e.body_text)]
        return (e.subject or f"the e-mail from {e.from_email}"), "\n".join(lines)
    if target.lead is not None:
        lead = target.lead
        name = f"{lead.first_name} {lead.last_name}".strip()
        return f"new lead {name}", f"Lead: {name} <{lead.email}>, source {lead.lead_source}"
    deal = target.deal
    assert deal is not None
    return f"new deal {deal.title}", (
        f"Deal: {deal.title}, {deal.value} {deal.currency}; "
        f"contact {deal.contact_name} <{deal.contact_email}>"
    )


def _activity(act: Act, value: Any, *, task: bool) -> bool:
    target = act.target
    options = value if isinstance(value, dict) else {}
    lead, deal = target.records()
    about, lines = _about(target)
    if task:
        kind, subject = ActivityType.TASK, f"Follow up: {about}"
    else:
        email_kind = target.trigger in EMAIL_TRIGGERS
        kind = options.get("type") or (ActivityType.EMAIL if email_kind else ActivityType.NOTE)
        subject = f"E-mail: {about}" if email_kind else about[:1].upper() + about[1:]
    due = options.get("due_in_days")
    activity = Activity(
        company_id=target.company.pk,
        user_id=act.owner_id(),
        lead=lead,
        deal=deal,
        activity_type=kind,
        subject=(options.get("subject") or subject)[:MAX_TEXT_CHARS],
        description=f"Created by the e-mail rule “{act.rule.name}”.\n{lines}"[:DESCRIPTION_CHARS],
        scheduled_at=timezone.now() + timedelta(days=due) if due is not None else None,
    )
    # The rows it points at are in hand and checked (records()): no look-up query for each.
    activity.full_clean(exclude=["company", "user", "lead", "deal"])
    activity.save()
    return True


def _notify_users(act: Act, user_ids: list[int]) -> bool:
    about, _ = _about(act.target)
    message = about
    if act.target.email is not None:
        email = act.target.email
        message = f"From {email.from_email}: {email.subject}\n{email_snippet(email.body_text)}"
    notified = False
    for user_id in dict.fromkeys(user_ids):
        user = _member(act, user_id, "notify_users")
        if user is not None:
            notification_create(user=user, title=f"{act.rule.name}: {about}", message=message)
            notified = True
    return notified


def _send(act: Act, value: bool) -> bool:
    if act.target.trigger == RuleTrigger.EMAIL_RECEIVED:
        return _reply(act)
    return _mail_record(act)


def _reply(act: Act) -> bool:
    email = act.target.email
    assert email is not None
    refusal = reply_refusal(email, act.facts.own_addresses, replying=True)
    if refusal is not None:
        logger.info("e-mail rule %s: no reply to e-mail %s: %s", act.rule.pk, email.pk, refusal)
        return False
    account = email.email_account
    if not account.is_active:
        act.warn(f"send_template_reply: the mailbox {account.email} is switched off.")
        return False
    subject = email.subject if email.subject.lower().startswith("re:") else f"Re: {email.subject}"
    thread = act.target.thread
    named = thread is not None and (thread.customer_id or thread.lead_id or thread.deal_id)
    context = {}
    if not (email.from_name or named or act.target.lead):
        # The template's {{customer_name}} would be left empty: the address's name part.
        context["customer_name"] = email.from_email.strip().split("@")[0]
    email_send_queue(
        account=account,
        to=[email.from_email.strip()],
        subject=subject.strip()[:500],
        template=act.rule.template,
        context=context,
        reply_to=email,
        thread=thread,
        created_by=act.rule.created_by,
    )
    return True


def _mail_record(act: Act) -> bool:
    lead, deal, rule = act.target.lead, act.target.deal, act.rule
    account = (
        EmailAccount.objects.filter(
            company_id=act.target.company.pk, user_id=rule.created_by_id, is_active=True
        )
        .select_related("company", "user")
        .order_by("-is_default", "pk")
        .first()
    )
    if account is None:
        act.warn(
            f"send_email: {rule.created_by.email}, who made the rule, has no active mailbox at "
            f"{act.target.company.company_name} to send from."
        )
        return False
    if lead is not None:
        to = lead.email
        context = {
            "customer_name": f"{lead.first_name} {lead.last_name}".strip(),
            "first_name": lead.first_name,
            "last_name": lead.last_name,
        }
    else:
        assert deal is not None
        to = deal.contact_email
        context = {
            "customer_name": deal.contact_name,
            "first_name": deal.contact_name.split(" ")[0],
            "deal_title": deal.title,
        }
    template = rule.template
    assert template is not None
    email_send_queue(
        account=account,
        to=[to],
        subject="",  # the template's, rendered
        template=template,
        context=context,
        created_by=rule.created_by,
    )
    return True


_ACTIONS: dict[str, Callable[[Act, Any], bool]] = {
    "set_category": _set_category,
    "create_lead": _create_lead,
    "assign_user": _assign_user,
    "create_task": lambda act, value: _activity(act, value, task=True),
    "create_activity": lambda act, value: _activity(act, value, task=False),
    "notify_users": _notify_users,
    "send_template_reply": _send,
    "send_email": _send,
}
