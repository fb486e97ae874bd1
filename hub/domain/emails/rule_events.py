"""The ``lead_created`` and ``deal_created`` rules, run from the event log.

:func:`rules_collect` reads ``hub_event`` after its cursor (the ``email_rules`` row of
``hub_relay_cursor``), as the Slack alerts do: log ids are commit order, so the rows after the
cursor are every lead and deal committed since, whoever made them (a hub service, the CRM, a
psql session). The rules run and the cursor moves past their events in one transaction that
holds the cursor's row lock, so each event runs its rules once, and two collectors never
interleave. The first run only places the cursor at the newest event: no rules for history.
"""

from __future__ import annotations

from hub.domain.crm.models import Deal, Lead
from hub.domain.emails.models import EmailRule, RuleTrigger
from hub.domain.emails.rules import rules_run
from hub.domain.events.models import Event
from hub.domain.events.services import event_log_consume

#: The row of ``hub_relay_cursor`` holding the last event id the rules have seen.
CURSOR = "email_rules"
#: The event types that trigger rules, and the trigger each runs.
TRIGGERS = {
    "lead.created": RuleTrigger.LEAD_CREATED.value,
    "deal.created": RuleTrigger.DEAL_CREATED.value,
}
_MAX_ID = 2**63 - 1


def _record_id(event: Event) -> int | None:
    """The lead's or deal's id in the payload (anyone's SQL may have written it), or None."""
    value = event.payload.get("id") if isinstance(event.payload, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_ID:
        return None
    return value


def _wanted(events: list[Event]) -> list[tuple[Event, str, int]]:
    """(event, trigger, record id) of the events whose company has an active rule for them."""
    found = [
        (event, TRIGGERS[event.type], record_id)
        for event in events
        if event.company_id is not None and (record_id := _record_id(event)) is not None
    ]
    ruled = set(
        EmailRule.objects.filter(
            is_active=True,
            trigger__in=TRIGGERS.values(),
            company_id__in={event.company_id for event, _, _ in found},
        ).values_list("company_id", "trigger")
    )
    return [item for item in found if (item[0].company_id, item[1]) in ruled]


def _run(wanted: list[tuple[Event, str, int]]) -> int:
    lead_ids = [i for _, trigger, i in wanted if trigger == RuleTrigger.LEAD_CREATED]
    deal_ids = [i for _, trigger, i in wanted if trigger == RuleTrigger.DEAL_CREATED]
    leads = Lead.objects.select_related("assigned_to").in_bulk(lead_ids)
    deals = Deal.objects.select_related("stage", "lead", "assigned_to").in_bulk(deal_ids)
    acted = 0
    for event, trigger, record_id in wanted:
        company_id = event.company_id
        assert company_id is not None
        if trigger == RuleTrigger.LEAD_CREATED:
            lead = leads.get(record_id)
            if lead is not None:  # gone since: nothing to run on
                acted += rules_run(trigger=trigger, company_id=company_id, lead=lead)
        else:
            deal = deals.get(record_id)
            if deal is not None:
                acted += rules_run(trigger=trigger, company_id=company_id, deal=deal)
    return acted


def rules_collect(*, limit: int = 200) -> int:
    """Run the rules of the leads and deals created since the last run (at most ``limit``
    events); return how many rules acted."""
    acted = event_log_consume(
        cursor=CURSOR,
        types=TRIGGERS,
        limit=limit,
        handle=lambda events: _run(_wanted(events)) if events else 0,
    )
    return acted or 0
