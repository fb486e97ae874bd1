"""E-mail rules (``emails_emailrule``) run on their triggers; the language is
docs/email-rules.md, its checks :mod:`rule_schema`, its actions :mod:`rule_actions`.

:func:`rules_run` never raises and never breaks its caller's transaction (the sync calls it
inside its batch): each rule runs in its own savepoint, so a rule that fails is rolled back
alone; a run with nothing to do opens none (and a sync skips whole batches: :func:`rules_due`).
What keeps a rule from running is stored as its ``EmailRuleProblem`` (shown in the admin) and
removed once it runs clean again.
"""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags

from hub.domain.crm.models import Deal, Lead
from hub.domain.emails.models import (
    Email,
    EmailAccount,
    EmailRule,
    EmailRuleProblem,
    RuleTrigger,
)
from hub.domain.emails.rule_actions import RuleTarget, RunFacts, rule_actions_run
from hub.domain.emails.rule_schema import domain_of, rule_problems, texts

logger = logging.getLogger(__name__)

PROBLEM_CHARS = 2000
# A problem met while running on a record starts so (rule_actions.Act.warn); the others are
# the rule's own (rule_schema), which a run that does not match can already tell are gone.
_RUN_PROBLEM = ("On e-mail ", "On lead ", "On deal ")


# --- conditions -------------------------------------------------------------------------------


def _fold(value: Any) -> str:
    return str(value or "").casefold()


def _address(value: Any) -> str:
    text = str(value or "")
    return (parseaddr(text)[1] or text).strip().lower()


def _in_domain(address: str, domains: list[str]) -> bool:
    host = address.rpartition("@")[2]
    return bool(host) and any(host == d or host.endswith(f".{d}") for d in domains)


def _participants(target: RuleTarget) -> list[str]:
    if target.email is not None:
        e = target.email
        listed = [e.from_email, *(e.to_emails or []), *(e.cc_emails or [])]
    elif target.lead is not None:
        listed = [target.lead.email]
    else:
        listed = [target.deal.contact_email] if target.deal is not None else []
    return [a for a in map(_address, listed) if a]


def _contains(value: Any, text: str) -> bool:
    folded = text.casefold()
    return any(word.casefold() in folded for word in texts(value))


def _body_contains(value: Any, email: Email) -> bool:
    if _contains(value, email.body_text or ""):
        return True
    return bool(email.body_html) and _contains(value, strip_tags(email.body_html))


def _participant(value: Any, target: RuleTarget) -> bool:
    present = _participants(target)
    for wanted in texts(value):
        if "@" in wanted.strip().lstrip("@"):
            if wanted.strip().lower() in present:
                return True
        elif any(_in_domain(address, [domain_of(wanted)]) for address in present):
            return True
    return False


def _record_value(target: RuleTarget) -> Decimal | None:
    if target.lead is not None:
        return target.lead.estimated_value
    return target.deal.value if target.deal is not None else None


def _value_gte(value: Any, target: RuleTarget) -> bool:
    amount = _record_value(target)
    try:
        return amount is not None and Decimal(amount) >= Decimal(str(value))
    except InvalidOperation:
        return False


def _source(target: RuleTarget) -> str | None:
    if target.lead is not None:
        return target.lead.lead_source
    lead = target.deal.lead if target.deal is not None else None
    return lead.lead_source if lead is not None else None


def _status(target: RuleTarget) -> str | None:
    record = target.lead or target.deal
    return record.status if record is not None else None


def _email(target: RuleTarget) -> Email:
    assert target.email is not None
    return target.email


_MATCHERS = {
    "subject_contains": lambda v, t: _contains(v, _email(t).subject or ""),
    "body_contains": lambda v, t: _body_contains(v, _email(t)),
    "from_domain": lambda v, t: _in_domain(
        _address(_email(t).from_email), [domain_of(d) for d in texts(v)]
    ),
    "from_email": lambda v, t: (
        _address(_email(t).from_email) in {a.strip().lower() for a in texts(v)}
    ),
    "participant_contains": _participant,
    "has_attachment": lambda v, t: bool(_email(t).has_attachments) is v,
    "direction": lambda v, t: _email(t).direction in texts(v),
    "status": lambda v, t: _status(t) in texts(v),
    "source": lambda v, t: _source(t) in texts(v),
    "stage": lambda v, t: (
        t.deal is not None and _fold(t.deal.stage.name) in {_fold(s).strip() for s in texts(v)}
    ),
    "value_gte": _value_gte,
}


def rule_matches(rule: EmailRule, target: RuleTarget) -> bool:
    """Whether every condition of a valid rule holds for the target (none: always)."""
    return all(_MATCHERS[name](value, target) for name, value in rule.conditions.items())


# --- problems ---------------------------------------------------------------------------------


def _stored_problem(rule: EmailRule) -> EmailRuleProblem | None:
    try:
        return rule.problem
    except ObjectDoesNotExist:
        return None


def _problem_save(rule: EmailRule, messages: list[str]) -> None:
    """Write or update the rule's problem (its message, last seen, one occurrence more)."""
    message = "\n".join(messages)[:PROBLEM_CHARS]
    now = timezone.now()
    rows = EmailRuleProblem.objects.filter(rule_id=rule.pk)
    changes = {"message": message, "last_seen_at": now, "occurrences": F("occurrences") + 1}
    try:
        with transaction.atomic():
            if rows.update(**changes):
                return
            with transaction.atomic():
                EmailRuleProblem.objects.create(rule_id=rule.pk, message=message, last_seen_at=now)
    except IntegrityError:  # written meanwhile by another run (or the rule is gone)
        with transaction.atomic():
            rows.update(**changes)


def _problem_clear(rule: EmailRule, *, ran: bool) -> None:
    """Delete the stored problem once the rule runs clean; a run that did not match keeps a
    problem met while running on a record (it has not shown that one gone)."""
    stored = _stored_problem(rule)
    if stored is None or (not ran and stored.message.startswith(_RUN_PROBLEM)):
        return
    with transaction.atomic():  # a failure here must not break the caller's transaction
        EmailRuleProblem.objects.filter(rule_id=rule.pk).delete()


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return f"{type(error).__name__}: {error}"


# --- running ----------------------------------------------------------------------------------


def _rule_run(rule: EmailRule, target: RuleTarget, facts: RunFacts) -> bool:
    problems = rule_problems(rule)
    if problems:
        _problem_save(rule, problems)
        return False
    lead_before = target.lead
    try:
        with transaction.atomic():
            matched = rule_matches(rule, target)
            act = rule_actions_run(rule=rule, target=target, facts=facts) if matched else None
    except Exception as error:
        target.lead = lead_before  # a lead it created was rolled back with it
        logger.warning("e-mail rule %s failed on %s", rule.pk, target.label, exc_info=True)
        _problem_save(rule, [f"On {target.label}: the rule failed: {_reason(error)}"])
        return False
    if act is not None and act.warnings:
        _problem_save(rule, act.warnings)
    else:
        _problem_clear(rule, ran=act is not None)
    return act is not None and act.acted


def _record(trigger: str, email: Email | None, lead: Lead | None, deal: Deal | None) -> Any | None:
    """The row that says which company the run is about (an e-mail's account)."""
    if trigger in (RuleTrigger.EMAIL_RECEIVED, RuleTrigger.EMAIL_SENT):
        return email.email_account if email is not None else None
    return lead if trigger == RuleTrigger.LEAD_CREATED else deal


def _history(trigger: str, account: EmailAccount | None) -> bool:
    """Whether mail of the account is its first sync's: the mailbox's history, which rules
    leave alone (they act on new mail). Old mail a later sync stores while a folder is synced
    again from the window (a UIDVALIDITY change, another mailbox, a reset) is history too: the
    sync does not ask for rules then (``sync_store.batch_store``)."""
    return (
        trigger == RuleTrigger.EMAIL_RECEIVED and account is not None and account.last_sync is None
    )


def rules_due(*, trigger: str, company_id: int, account: EmailAccount | None = None) -> bool:
    """Whether :func:`rules_run` could act on ``trigger`` for the company (and, for received
    mail, the account): one query at most, so a sync asks once a batch instead of once a
    message."""
    if _history(trigger, account):
        return False
    return EmailRule.objects.filter(company_id=company_id, trigger=trigger, is_active=True).exists()


def _rules_for(
    trigger: str, company_id: int, email: Email | None, lead: Lead | None, deal: Deal | None
) -> list[EmailRule]:
    record = _record(trigger, email, lead, deal)
    if record is None or record.company_id != company_id:
        return []  # nothing to run on, or another company's: no rule ever sees it
    if _history(trigger, record):
        return []
    return list(
        EmailRule.objects.filter(company_id=company_id, trigger=trigger, is_active=True)
        .select_related("company", "template", "created_by", "problem")
        .order_by("pk")
    )


def rules_run(
    *,
    trigger: str,
    company_id: int,
    email: Email | None = None,
    lead: Lead | None = None,
    deal: Deal | None = None,
) -> int:
    """Run the company's active rules of ``trigger`` on the e-mail, lead or deal; return how
    many acted. Never raises.

    With nothing to run (no active rule of the trigger, another company's record, a first
    sync's mail) it costs one read at most and no savepoint; each rule that runs has its own."""
    try:
        rules = _rules_for(trigger, company_id, email, lead, deal)
    except Exception:  # the database failing: on PostgreSQL the caller's transaction goes too
        logger.exception("e-mail rules %s of company %s could not run", trigger, company_id)
        return 0
    if not rules:
        return 0
    company = rules[0].company
    target = RuleTarget(trigger=trigger, company=company, email=email, lead=lead, deal=deal)
    facts = RunFacts(company)
    acted = 0
    for rule in rules:
        try:
            acted += _rule_run(rule, target, facts)
        except Exception:  # storing its problem failed: the next rules still run
            logger.exception("e-mail rule %s: its problem could not be stored", rule.pk)
    return acted
